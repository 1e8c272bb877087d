//! `[slo]`: the service level objectives the burn-rate alerts and the SLO dashboard are
//! generated from.
//!
//! Three objectives, each with its own table, all on by default:
//!
//! - `[slo.availability]`: the share of the client API's answers (`/v1/*` route templates by
//!   default) that are not 5xx, from `http_requests_total`;
//! - `[slo.latency]`: the share of inferences whose first token arrived within a threshold,
//!   from `gatewayz_time_to_first_token_seconds` (a stream's first token; a plain completion's
//!   whole answer, which is when its first token arrives);
//! - `[slo.model_availability]`: per model, the share of client requests a provider answered,
//!   from `gatewayz_model_requests_total` (one per request, whatever the failovers), so a model
//!   that one provider alone serves is covered even while that provider's circuit refuses
//!   every call.
//!
//! The alerts follow the Google SRE workbook's multi-window, multi-burn-rate scheme: burn rate
//! = error ratio / (1 − objective); page when both the 1 h and 5 min windows burn faster than
//! 14.4 or both the 6 h and 30 min windows faster than 6; open a ticket when both 1 d and 2 h
//! burn faster than 3 or both 3 d and 6 h faster than 1. The factors are fixed (over a 30-day
//! window they mean 2 % of the budget in an hour, 5 % in six hours, 10 % in a day, 10 % in
//! three days); the `window` sets what the budget remaining is counted over.

use serde::Deserialize;

use super::{Duration, Problems};

/// The service level objectives.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Slo {
    /// Availability of the client API.
    pub availability: AvailabilitySlo,
    /// Latency of inferences: time to first token.
    pub latency: LatencySlo,
    /// Availability of each model, as its clients see it.
    pub model_availability: ModelAvailabilitySlo,
}

fn days(n: u64) -> Duration {
    Duration::from_millis(n * 86_400_000)
}

/// The share of the client API's answers that are not server errors.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AvailabilitySlo {
    /// The share of answers that must not be 5xx, e.g. 0.999.
    pub objective: f64,
    /// The window the error budget is counted over.
    pub window: Duration,
    /// The client API: a regular expression on the `route` label (the route template).
    pub routes: String,
}

impl Default for AvailabilitySlo {
    fn default() -> Self {
        AvailabilitySlo {
            objective: 0.999,
            window: days(30),
            routes: "/v1/.*".to_owned(),
        }
    }
}

/// The share of inferences whose first token arrived within a threshold.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LatencySlo {
    /// The share of inferences that must meet the threshold, e.g. 0.95.
    pub objective: f64,
    /// Seconds to the first token: one of the bucket bounds of
    /// `gatewayz_time_to_first_token_seconds`, so the share is counted, not estimated.
    pub threshold_seconds: f64,
    /// The window the error budget is counted over.
    pub window: Duration,
}

impl Default for LatencySlo {
    fn default() -> Self {
        LatencySlo {
            objective: 0.95,
            threshold_seconds: 2.0,
            window: days(30),
        }
    }
}

/// Per model, the share of client requests that a provider answered.
///
/// 99.5 % by default, below the API's 99.9 %: a model is only as available as the providers
/// that serve it, which the gateway cannot better when nothing else serves the model, so a
/// model may fail 3.6 hours a month. Not lower: with the workbook's 14.4× over an hour, a
/// total outage of a model pages after 14.4 × 0.5 % of an hour, 4.3 minutes (at 99 % it would
/// take 8.6), and a provider's routine 0.1 to 0.2 % of failures stays well inside the budget.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModelAvailabilitySlo {
    /// The share of each model's requests that must be answered, e.g. 0.995.
    pub objective: f64,
    /// The window the error budget is counted over.
    pub window: Duration,
}

impl Default for ModelAvailabilitySlo {
    fn default() -> Self {
        ModelAvailabilitySlo {
            objective: 0.995,
            window: days(30),
        }
    }
}

/// One burn-rate alert's pair of windows: both must burn faster than `factor`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BurnWindows {
    /// The long window: how much of the budget the rate has consumed.
    pub long: &'static str,
    /// The short window: whether it is still burning (so the alert resolves soon after).
    pub short: &'static str,
    /// Burn-rate factor both windows must exceed.
    pub factor: f64,
}

/// The page: 2 % of a 30-day budget in an hour, or 5 % in six hours.
pub const PAGE: [BurnWindows; 2] = [
    BurnWindows {
        long: "1h",
        short: "5m",
        factor: 14.4,
    },
    BurnWindows {
        long: "6h",
        short: "30m",
        factor: 6.0,
    },
];

/// The ticket: 10 % of a 30-day budget in a day, or in three days.
pub const TICKET: [BurnWindows; 2] = [
    BurnWindows {
        long: "1d",
        short: "2h",
        factor: 3.0,
    },
    BurnWindows {
        long: "3d",
        short: "6h",
        factor: 1.0,
    },
];

/// Every window an SLI ratio is recorded over, shortest first.
pub const WINDOWS: [&str; 7] = ["5m", "30m", "1h", "2h", "6h", "1d", "3d"];

/// The lowest objective a page can fire for: above it, 14.4 × the error budget is below 1.
pub(crate) fn lowest_objective() -> f64 {
    1.0 - 1.0 / PAGE[0].factor
}

impl Slo {
    /// `(key, objective, window)` of each objective, in the order of the configuration.
    pub(crate) fn objectives(&self) -> [(&'static str, f64, &Duration); 3] {
        [
            (
                "availability",
                self.availability.objective,
                &self.availability.window,
            ),
            ("latency", self.latency.objective, &self.latency.window),
            (
                "model_availability",
                self.model_availability.objective,
                &self.model_availability.window,
            ),
        ]
    }

    pub(super) fn validate(&self, problems: &mut Problems) {
        let lowest = lowest_objective();
        for (key, objective, window) in self.objectives() {
            if !(objective > lowest && objective < 1.0) {
                problems.add(
                    format!("slo.{key}.objective"),
                    format!(
                        "{objective} is not an objective the burn-rate alerts can serve: give a \
                         share above {lowest:.4} and below 1 (at {lowest:.4} and under, a \
                         {}× burn over {} would need more than 100 % errors, so the fast page \
                         could never fire; at 1 there is no error budget)",
                        PAGE[0].factor, PAGE[0].long
                    ),
                );
            }
            let window_days = window.millis() / 86_400_000;
            if !window.millis().is_multiple_of(86_400_000) || !(3..=365).contains(&window_days) {
                problems.add(
                    format!("slo.{key}.window"),
                    format!(
                        "{window} is not a whole number of days between 3d (the longest \
                         burn-rate window) and 365d"
                    ),
                );
            }
        }
        let routes = &self.availability.routes;
        if routes.trim().is_empty() || routes.contains(['"', '\\', '\n']) || !balanced(routes) {
            problems.add(
                "slo.availability.routes",
                format!(
                    "`{routes}` is not a regular expression this generator writes safely: no \
                     quotes, backslashes or newlines, and balanced brackets (e.g. `/v1/.*`)"
                ),
            );
        }
        let threshold = self.latency.threshold_seconds;
        let buckets = gatewayz_catalogue::TIME_TO_FIRST_TOKEN.buckets;
        if !buckets.contains(&threshold) {
            let bounds: Vec<String> = buckets.iter().map(|b| b.to_string()).collect();
            problems.add(
                "slo.latency.threshold_seconds",
                format!(
                    "{threshold} s is not a bucket bound of {}, so the share of inferences \
                     under it could only be estimated; use one of {} s",
                    gatewayz_catalogue::TIME_TO_FIRST_TOKEN.name,
                    bounds.join(", ")
                ),
            );
        }
    }
}

/// Whether the brackets and parentheses of a regular expression pair up.
fn balanced(regex: &str) -> bool {
    let mut stack = Vec::new();
    for c in regex.chars() {
        match c {
            '(' | '[' | '{' => stack.push(c),
            ')' | ']' | '}' => {
                let open = match c {
                    ')' => '(',
                    ']' => '[',
                    _ => '{',
                };
                if stack.pop() != Some(open) {
                    return false;
                }
            }
            _ => {}
        }
    }
    stack.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_workbook_factors_are_fractions_of_a_thirty_day_budget() {
        let thirty_days = 30.0 * 24.0;
        let hours = |w: &str| crate::config::parse_millis(w).unwrap() as f64 / 3_600_000.0;
        // factor × long window / 30 days = the share of the budget consumed.
        let shares: Vec<f64> = PAGE
            .iter()
            .chain(&TICKET)
            .map(|b| (b.factor * hours(b.long) / thirty_days * 1000.0).round() / 1000.0)
            .collect();
        assert_eq!(shares, [0.02, 0.05, 0.1, 0.1]);
        for pair in PAGE.iter().chain(&TICKET) {
            assert!(WINDOWS.contains(&pair.long) && WINDOWS.contains(&pair.short));
        }
    }

    #[test]
    fn regular_expressions_must_balance() {
        assert!(balanced("/v1/(chat|completions).*"));
        assert!(!balanced("/v1/(chat"));
        assert!(!balanced("/v1/]"));
    }
}
