//! The routing policies: which candidate a request tries first, in one pass over the
//! candidates (two for `weighted` and for a random draw), and the failover order for the rest,
//! picked one at a time as the caller moves on. Pure functions of what each candidate's view
//! said when the route was made, and of the thread's random numbers.

use gatewayz_catalogue::RoutingPolicy;

use crate::{Price, RoutingConfig};

/// Group of a candidate every circuit refused, held only so the caller learns when to retry.
pub(crate) const REFUSED: u8 = 2;

/// One candidate of a route, as ranked when the route was made.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Entry<'a> {
    pub(crate) name: &'a str,
    /// Position in the caller's list: ties keep it.
    pub(crate) index: u32,
    /// 0: a half-open probe, tried first; 1: the rest; [`REFUSED`]: held for its refusal.
    pub(crate) group: u8,
    /// Handed out already.
    pub(crate) used: bool,
    /// Closed circuit, not on probation, and healthy (or not judged yet): may be a policy's
    /// first choice.
    pub(crate) eligible: bool,
    /// On probation with a closed circuit, and this route is its trial: first, whatever the
    /// policy (after a probe).
    pub(crate) trial: bool,
    /// The health score for ordering (unknown status: `failover.unknown_score`).
    pub(crate) key: f64,
    pub(crate) price: Option<Price>,
    /// Dollars per million input tokens of a request, outputs included at the model's ratio;
    /// NaN when the price is unknown.
    pub(crate) expected_price: f64,
    /// Recent p95 in seconds; NaN when unknown.
    pub(crate) latency: f64,
}

impl<'a> Entry<'a> {
    /// The candidate held when every circuit refused.
    pub(crate) fn refused(name: &'a str, index: u32) -> Entry<'a> {
        Entry {
            name,
            index,
            group: REFUSED,
            used: false,
            eligible: false,
            trial: false,
            key: 0.0,
            price: None,
            expected_price: f64::NAN,
            latency: f64::NAN,
        }
    }

    /// The failover order: probes first, then by score (best first), then in the caller's
    /// order.
    pub(crate) fn order(&self, other: &Entry<'_>) -> std::cmp::Ordering {
        self.group
            .cmp(&other.group)
            .then(other.key.total_cmp(&self.key))
            .then(self.index.cmp(&other.index))
    }

    /// Whether `self` comes before `other` in failover order.
    fn before(&self, other: &Entry<'_>) -> bool {
        self.order(other).is_lt()
    }
}

/// The index of the first unused entry in failover order; `None` when all are used.
pub(crate) fn next_in_order(entries: &[Entry<'_>]) -> Option<usize> {
    let mut best: Option<usize> = None;
    for (i, entry) in entries.iter().enumerate() {
        if !entry.used && best.is_none_or(|b| entry.before(&entries[b])) {
            best = Some(i);
        }
    }
    best
}

/// What a policy decided for a route.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Decision {
    /// The entry tried first; `None` for an empty route.
    pub(crate) first: Option<usize>,
    /// The mean price of the candidates `spread` draws from, when their prices are known.
    pub(crate) reference: Option<Price>,
}

/// Chooses the first candidate under `policy`.
///
/// A half-open probe goes first whatever the policy (that is how a recovered provider is
/// noticed), then a trial of a provider on probation (how it is judged again); with neither,
/// the policy chooses among the eligible candidates (closed circuit, not on probation, healthy
/// or unknown), and when none is eligible the failover order's first is first. With
/// probability `routing.exploration`, `cheapest`, `fastest` and `weighted` draw their choice
/// at random among the eligible, as `spread` does.
pub(crate) fn choose(
    policy: RoutingPolicy,
    entries: &[Entry<'_>],
    routing: &RoutingConfig,
) -> Decision {
    // One pass: the failover order's first, a trial, the eligible count, the reference sums,
    // and the cheapest and fastest eligible candidates.
    let mut ordered: Option<usize> = None;
    let mut trial: Option<usize> = None;
    let mut eligible = 0usize;
    let (mut input, mut output, mut priced) = (0.0, 0.0, 0usize);
    let mut cheapest: Option<usize> = None;
    let mut fastest: Option<usize> = None;
    for (i, e) in entries.iter().enumerate() {
        if ordered.is_none_or(|b| e.before(&entries[b])) {
            ordered = Some(i);
        }
        if e.trial && trial.is_none() {
            trial = Some(i);
        }
        if !e.eligible {
            continue;
        }
        eligible += 1;
        if let Some(price) = e.price {
            input += price.input_per_million;
            output += price.output_per_million;
            priced += 1;
        }
        if lower(
            e.expected_price,
            e,
            cheapest.map(|b| (entries[b].expected_price, &entries[b])),
        ) {
            cheapest = Some(i);
        }
        if lower(
            e.latency,
            e,
            fastest.map(|b| (entries[b].latency, &entries[b])),
        ) {
            fastest = Some(i);
        }
    }
    let reference = if eligible == 0 {
        ordered.and_then(|i| entries[i].price)
    } else {
        (priced > 0).then(|| Price {
            input_per_million: input / priced as f64,
            output_per_million: output / priced as f64,
        })
    };
    let Some(ordered) = ordered else {
        return Decision {
            first: None,
            reference,
        };
    };
    let probe = entries[ordered].group == 0;
    let first = if probe {
        Some(ordered)
    } else {
        trial.or((eligible == 0).then_some(ordered))
    };
    if first.is_some() {
        return Decision { first, reference };
    }
    let explore = || routing.exploration > 0.0 && fastrand::f64() < routing.exploration;
    let first = match policy {
        RoutingPolicy::Priority => ordered,
        RoutingPolicy::Spread => draw(entries, eligible),
        _ if explore() => draw(entries, eligible),
        // Without a price (or a latency) for any candidate there is nothing to compare: the
        // policy spreads, so that the candidates become known.
        RoutingPolicy::Cheapest => cheapest.unwrap_or_else(|| draw(entries, eligible)),
        RoutingPolicy::Fastest => fastest.unwrap_or_else(|| draw(entries, eligible)),
        RoutingPolicy::Weighted => weighted(entries, cheapest, fastest, routing),
    };
    Decision {
        first: Some(first),
        reference,
    }
}

/// Whether `value` (of `entry`) beats the best so far: lower, or equal and earlier in failover
/// order. NaN (unknown) never beats anything.
fn lower(value: f64, entry: &Entry<'_>, best: Option<(f64, &Entry<'_>)>) -> bool {
    if value.is_nan() {
        return false;
    }
    match best {
        None => true,
        Some((best, other)) => value < best || (value == best && entry.before(other)),
    }
}

/// One of the `eligible` eligible entries, uniformly at random.
fn draw(entries: &[Entry<'_>], eligible: usize) -> usize {
    let mut k = fastrand::usize(..eligible);
    for (i, e) in entries.iter().enumerate() {
        if e.eligible {
            if k == 0 {
                return i;
            }
            k -= 1;
        }
    }
    unreachable!("`eligible` counts the eligible entries")
}

/// The eligible entry with the best blend: `w_health × score + w_price × (cheapest / price) +
/// w_latency × (fastest / latency)`, an unknown price or latency counting 0 and a free one 1;
/// ties in failover order.
fn weighted(
    entries: &[Entry<'_>],
    cheapest: Option<usize>,
    fastest: Option<usize>,
    routing: &RoutingConfig,
) -> usize {
    let w = &routing.weights;
    let least_price = cheapest.map_or(f64::NAN, |i| entries[i].expected_price);
    let least_latency = fastest.map_or(f64::NAN, |i| entries[i].latency);
    let relative = |least: f64, value: f64| {
        if value.is_nan() || least.is_nan() {
            0.0
        } else if value <= 0.0 {
            1.0
        } else {
            (least / value).clamp(0.0, 1.0)
        }
    };
    let mut best: Option<(f64, usize)> = None;
    for (i, e) in entries.iter().enumerate() {
        if !e.eligible {
            continue;
        }
        let blend = w.health * e.key.clamp(0.0, 1.0)
            + w.price * relative(least_price, e.expected_price)
            + w.latency * relative(least_latency, e.latency);
        let better = match best {
            None => true,
            Some((b, j)) => blend > b || (blend == b && e.before(&entries[j])),
        };
        if better {
            best = Some((blend, i));
        }
    }
    best.map_or(0, |(_, i)| i)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &'static str, index: u32, price: f64, latency: f64) -> Entry<'static> {
        Entry {
            name,
            index,
            group: 1,
            used: false,
            eligible: true,
            trial: false,
            key: 1.0,
            price: (!price.is_nan()).then(|| Price::per_million(price, price)),
            expected_price: price * 2.0,
            latency,
        }
    }

    fn config(exploration: f64) -> RoutingConfig {
        RoutingConfig {
            exploration,
            ..RoutingConfig::default()
        }
    }

    fn first(policy: RoutingPolicy, entries: &[Entry<'_>]) -> &'static str {
        let i = choose(policy, entries, &config(0.0)).first.unwrap();
        ["a", "b", "c", "d"][entries[i].index as usize]
    }

    #[test]
    fn cheapest_and_fastest_pick_the_least_and_break_ties_in_failover_order() {
        let entries = [
            entry("a", 0, 3.0, 0.9),
            entry("b", 1, 1.0, 0.5),
            entry("c", 2, 1.0, 0.2),
        ];
        assert_eq!(first(RoutingPolicy::Cheapest, &entries), "b");
        assert_eq!(first(RoutingPolicy::Fastest, &entries), "c");
        let mut better_scored = entries;
        better_scored[2].key = 1.0;
        better_scored[1].key = 0.9;
        assert_eq!(first(RoutingPolicy::Cheapest, &better_scored), "c");
    }

    #[test]
    fn unknown_figures_never_win_and_all_unknown_spreads() {
        let entries = [
            entry("a", 0, f64::NAN, f64::NAN),
            entry("b", 1, 2.0, f64::NAN),
        ];
        assert_eq!(first(RoutingPolicy::Cheapest, &entries), "b");
        fastrand::seed(7);
        let mut seen = [0; 2];
        for _ in 0..200 {
            let i = choose(RoutingPolicy::Fastest, &entries, &config(0.0))
                .first
                .unwrap();
            seen[i] += 1;
        }
        assert!(seen.iter().all(|&n| n > 50), "{seen:?}");
    }

    #[test]
    fn the_reference_is_the_mean_price_of_the_eligible() {
        let mut entries = [
            entry("a", 0, 1.0, 0.1),
            entry("b", 1, 3.0, 0.1),
            entry("c", 2, 100.0, 0.1),
        ];
        entries[2].eligible = false;
        let decision = choose(RoutingPolicy::Cheapest, &entries, &config(0.0));
        assert_eq!(decision.reference, Some(Price::per_million(2.0, 2.0)));
        for e in &mut entries {
            e.eligible = false;
        }
        entries[2].key = 2.0;
        // None eligible: the failover order's first, and its price.
        let decision = choose(RoutingPolicy::Cheapest, &entries, &config(0.0));
        assert_eq!(decision.first, Some(2));
        assert_eq!(decision.reference, Some(Price::per_million(100.0, 100.0)));
    }

    #[test]
    fn weighted_blends_its_terms() {
        let entries = [entry("a", 0, 1.0, 1.0), entry("b", 1, 2.0, 0.25)];
        // a: 0.2 + 0.4 × 1 + 0.4 × 0.25 = 0.7; b: 0.2 + 0.4 × 0.5 + 0.4 × 1 = 0.8.
        assert_eq!(first(RoutingPolicy::Weighted, &entries), "b");
        let routing = RoutingConfig {
            exploration: 0.0,
            weights: crate::RoutingWeights {
                health: 0.0,
                price: 1.0,
                latency: 0.0,
            },
            ..RoutingConfig::default()
        };
        let i = choose(RoutingPolicy::Weighted, &entries, &routing).first;
        assert_eq!(i, Some(0));
    }

    #[test]
    fn the_rest_follow_the_failover_order() {
        let mut entries = [
            entry("a", 0, 1.0, 1.0),
            entry("b", 1, 1.0, 1.0),
            entry("c", 2, 1.0, 1.0),
        ];
        entries[0].key = 0.5;
        entries[2].key = 0.9;
        entries[1].used = true;
        // b is handed out; c (0.9) comes before a (0.5).
        assert_eq!(next_in_order(&entries), Some(2));
        entries[2].used = true;
        assert_eq!(next_in_order(&entries), Some(0));
        entries[0].used = true;
        assert_eq!(next_in_order(&entries), None);
    }
}
