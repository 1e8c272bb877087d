//! What the rules will make of the incident suite's input series, minute by minute: the
//! expressions the suite's alerts read (rates and ratios over windows of counters sampled
//! every minute, as promtool feeds them) and Prometheus's alert state machine (`for`,
//! `keep_firing_for`).
//!
//! This is not a second PromQL engine. It computes, for series sampled at whole minutes and
//! evaluated at whole minutes, what Prometheus computes: a range `[t − w, t]` holds the
//! samples at both ends, so `rate` needs no extrapolation, and before the first sample a
//! counter that starts at 0 is not extrapolated either. Where a scenario needs more (a replica
//! that stops being scraped), its expectations are written out instead. promtool then holds
//! every computed time to the minute: a scenario checks the minute before each change and the
//! minute of it.

use super::samples::Samples;

/// A window in minutes, from a Prometheus duration.
pub(crate) fn minutes(window: &str) -> usize {
    (crate::config::parse_millis(window).unwrap_or_else(|| panic!("`{window}` is a duration"))
        / 60_000) as usize
}

/// `rate(series[window])` at step `t`, per second, the window in steps of `step` minutes;
/// `None` without two samples.
pub(crate) fn rate(series: &Samples, t: usize, window: usize, step: usize) -> Option<f64> {
    if t == 0 {
        return None;
    }
    let from = t.saturating_sub(window);
    let (first, last) = (series.at(from)?, series.at(t)?);
    Some((last - first) / (window * step * 60) as f64)
}

/// `sum(rate(...))` over `series` at step `t`; `None` when none has a rate.
pub(crate) fn sum_rate(series: &[&Samples], t: usize, window: usize, step: usize) -> Option<f64> {
    series
        .iter()
        .filter_map(|s| rate(s, t, window, step))
        .fold(None, |sum, r| Some(sum.unwrap_or(0.0) + r))
}

/// `sum(increase(...[window]))` over `series` at step `t`, the window in steps: the
/// difference of the samples at the window's ends (Prometheus does not divide an increase by
/// the range, so it is exact); `None` when no series has two samples.
pub(crate) fn increase(series: &[&Samples], t: usize, window: usize) -> Option<f64> {
    if t == 0 {
        return None;
    }
    let from = t.saturating_sub(window);
    series
        .iter()
        .filter_map(|s| Some(s.at(t)? - s.at(from)?))
        .fold(None, |sum, d| Some(sum.unwrap_or(0.0) + d))
}

/// An objective's events as the suite feeds them: its bad events' counters, and every counter
/// its total sums (bad ones included), on every replica.
pub(crate) struct Events<'a> {
    /// The error side (5xx answers, failed requests, slow inferences).
    pub(crate) bad: Vec<&'a Samples>,
    /// Everything the total counts.
    pub(crate) total: Vec<&'a Samples>,
}

impl Events<'_> {
    /// The error ratio over `window` steps of `step` minutes at step `t`: no sample without
    /// traffic.
    pub(crate) fn ratio(&self, t: usize, window: usize, step: usize) -> Option<f64> {
        let total = sum_rate(&self.total, t, window, step).filter(|r| *r > 0.0)?;
        let bad = sum_rate(&self.bad, t, window, step).unwrap_or(0.0);
        Some(bad / total)
    }

    /// The burn rate over `window` at step `t`, as the recording rule divides.
    pub(crate) fn burn(&self, t: usize, window: &str, budget: f64, step: usize) -> Option<f64> {
        let steps = minutes(window) / step;
        assert!(
            steps * step == minutes(window),
            "{window} is not a number of steps"
        );
        self.ratio(t, steps, step).map(|r| r / budget)
    }
}

/// An alert's state at every minute: `Some(value)` while firing, `None` otherwise, from the
/// value of its expression at every minute (`None`: no sample), its `for` and its
/// `keep_firing_for`, as Prometheus 2.42 steps them: an alert is pending from the first
/// evaluation with a sample and fires once it has been active for `for`; without a sample a
/// pending alert is dropped, a firing one resolves unless it has kept firing for less than
/// `keep_firing_for` since its expression last had one. While kept firing it shows its last
/// value.
pub(crate) fn alert_states(
    values: &[Option<f64>],
    for_minutes: usize,
    keep_minutes: usize,
) -> Vec<Option<f64>> {
    let mut states = Vec::with_capacity(values.len());
    let mut active_at: Option<usize> = None;
    let mut firing = false;
    let mut keep_since: Option<usize> = None;
    let mut last = f64::NAN;
    for (t, value) in values.iter().enumerate() {
        match value {
            Some(v) => {
                last = *v;
                keep_since = None;
                let since = *active_at.get_or_insert(t);
                if t - since >= for_minutes {
                    firing = true;
                }
            }
            None if firing && keep_minutes > 0 => {
                let since = *keep_since.get_or_insert(t);
                if t - since >= keep_minutes {
                    firing = false;
                    active_at = None;
                    keep_since = None;
                }
            }
            None => {
                firing = false;
                active_at = None;
            }
        }
        states.push(firing.then_some(last));
    }
    states
}

/// The minutes at which `states` changes (to firing or back), each with its new state.
pub(crate) fn changes(states: &[Option<f64>]) -> Vec<(usize, bool)> {
    let mut out = Vec::new();
    let mut before = false;
    for (t, state) in states.iter().enumerate() {
        if state.is_some() != before {
            out.push((t, state.is_some()));
            before = state.is_some();
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_read_the_window_ends_and_start_from_zero() {
        let counter = Samples::steady(10, 60.0);
        assert_eq!(rate(&counter, 10, 5, 1), Some(1.0));
        // The window reaches before the first sample: from 0, over the whole window.
        assert_eq!(rate(&counter, 2, 5, 1), Some(120.0 / 300.0));
        assert_eq!(rate(&counter, 0, 5, 1), None);
        // Five-minute steps: a sample every five minutes.
        assert_eq!(rate(&counter, 10, 1, 5), Some(60.0 / 300.0));
    }

    #[test]
    fn the_state_machine_follows_prometheus() {
        // The experiment that pinned it: true for minutes 0..=5 and 9..=14, `for` 2m,
        // `keep_firing_for` 5m: firing from 2 to 19, quiet at 20.
        let values: Vec<Option<f64>> = (0..30)
            .map(|t| ((0..=5).contains(&t) || (9..=14).contains(&t)).then_some(1.0))
            .collect();
        let states = alert_states(&values, 2, 5);
        assert_eq!(changes(&states), [(2, true), (20, false)]);
        // Without keep_firing_for the gap resolves it, and `for` starts again.
        let states = alert_states(&values, 2, 0);
        assert_eq!(
            changes(&states),
            [(2, true), (6, false), (11, true), (15, false)]
        );
        // `for` 0 fires at once.
        assert_eq!(changes(&alert_states(&values, 0, 0))[0], (0, true));
    }
}
