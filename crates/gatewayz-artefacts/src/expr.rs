//! PromQL expressions scoped to one deployment: selectors that carry its matchers, aggregations
//! that keep its labels, and the guards every ratio and health gauge needs. Dashboards, rules
//! and the PromQL library are all built with these, so none of them can forget the job.

use gatewayz_catalogue::MetricDef;

use crate::Selector;

/// Where a query looks: the matchers every selector carries, and the labels every aggregation
/// keeps.
///
/// Rules select the deployment exactly and keep its labels (`sum by (job, cluster, provider)`),
/// so two deployments' recorded series never merge; dashboards select through their variables
/// (`job="$job", instance=~"$instance"`); the PromQL library selects exactly and aggregates
/// plainly, for the Prometheus UI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Scope {
    matchers: String,
    keep: Vec<String>,
}

impl Scope {
    /// For rules and alerts: the deployment's exact matchers, its labels kept.
    pub(crate) fn rules(selector: &Selector) -> Scope {
        Scope {
            matchers: selector.promql(),
            keep: selector.labels().iter().map(|l| (*l).to_owned()).collect(),
        }
    }

    /// For dashboards: `job` and the matcher labels through their single-value variables,
    /// `instance` through its multi-value one.
    pub(crate) fn dashboard(selector: &Selector) -> Scope {
        let mut matchers: Vec<String> = selector
            .labels()
            .iter()
            .map(|label| format!("{label}=\"${label}\""))
            .collect();
        matchers.push(r#"instance=~"$instance""#.to_owned());
        Scope {
            matchers: matchers.join(", "),
            keep: Vec::new(),
        }
    }

    /// For dashboard queries of fleet-wide series (recording rules, `ALERTS`), which have no
    /// `instance`: `job` and the matcher labels through their variables, no `instance`.
    pub(crate) fn dashboard_fleet(selector: &Selector) -> Scope {
        let matchers: Vec<String> = selector
            .labels()
            .iter()
            .map(|label| format!("{label}=\"${label}\""))
            .collect();
        Scope {
            matchers: matchers.join(", "),
            keep: Vec::new(),
        }
    }

    /// For the PromQL library: the deployment's exact matchers, plain aggregations.
    pub(crate) fn library(selector: &Selector) -> Scope {
        Scope {
            matchers: selector.promql(),
            keep: Vec::new(),
        }
    }

    /// `def{scope, matchers}`.
    pub(crate) fn sel(&self, def: &MetricDef, matchers: &str) -> String {
        self.series(def.name, "", matchers)
    }

    /// `name_suffix{scope, matchers}`: a histogram's `_bucket`, `_sum` and `_count` series, or a
    /// recorded series.
    pub(crate) fn series(&self, name: &str, suffix: &str, matchers: &str) -> String {
        format!("{name}{suffix}{{{}}}", and(&[&self.matchers, matchers]))
    }

    /// The labels an aggregation keeps: the scope's, then `labels`.
    pub(crate) fn by(&self, labels: &str) -> String {
        let kept = self.keep.join(", ");
        and(&[&kept, labels])
    }

    /// `op by (scope labels, labels) (inner)`, or `op(inner)` when nothing is kept.
    pub(crate) fn agg(&self, op: &str, labels: &str, inner: &str) -> String {
        format!("{}({inner})", self.agg_head(op, labels))
    }

    /// `op by (...) ` or `op`, ready for its parenthesised argument.
    fn agg_head(&self, op: &str, labels: &str) -> String {
        let by = self.by(labels);
        if by.is_empty() {
            op.to_owned()
        } else {
            format!("{op} by ({by}) ")
        }
    }

    /// `sum by (by) (rate(counter{scope, matchers}[window]))`.
    pub(crate) fn sum_rate(
        &self,
        def: &MetricDef,
        by_labels: &str,
        matchers: &str,
        window: &str,
    ) -> String {
        self.agg(
            "sum",
            by_labels,
            &format!("rate({}[{window}])", self.sel(def, matchers)),
        )
    }

    /// `sum by (by) (increase(counter{scope, matchers}[window]))`.
    pub(crate) fn sum_increase(
        &self,
        def: &MetricDef,
        by_labels: &str,
        matchers: &str,
        window: &str,
    ) -> String {
        self.agg(
            "sum",
            by_labels,
            &format!("increase({}[{window}])", self.sel(def, matchers)),
        )
    }

    /// `histogram_quantile(q, sum by (le, by) (rate(histogram_bucket{scope, matchers}[window])))`.
    pub(crate) fn quantile(
        &self,
        q: f64,
        def: &MetricDef,
        by_labels: &str,
        matchers: &str,
        window: &str,
    ) -> String {
        let by_labels = and(&["le", by_labels]);
        format!(
            "histogram_quantile({q}, {})",
            self.agg(
                "sum",
                &by_labels,
                &format!(
                    "rate({}[{window}])",
                    self.series(def.name, "_bucket", matchers)
                ),
            )
        )
    }
}

/// Joins matchers (or label lists) with `, `, skipping empty ones.
pub(crate) fn and(matchers: &[&str]) -> String {
    matchers
        .iter()
        .filter(|m| !m.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join(", ")
}

/// `numerator / (denominator > 0)`: no sample, rather than NaN or +Inf, when the denominator
/// is zero (no traffic).
pub(crate) fn ratio(numerator: &str, denominator: &str) -> String {
    format!("{numerator}\n  / ({denominator} > 0)")
}

/// Filters out a gauge sample that is NaN: `NaN >= 0` is false. The gatewayz recorder leaves
/// NaN gauges out of the exposition; this guards the fleet's figures against a replica whose
/// recorder shows them (another recorder, an older release during a rolling upgrade).
pub(crate) fn known(gauge: &str) -> String {
    format!("{gauge} >= 0")
}

/// Upstream attempts per second by replica and provider, from `scope`'s series matching
/// `matchers`: calls made (the response-time histogram counts each) plus calls refused by the
/// circuit, which the availability ratio and the health score also count. Either may be
/// missing (a provider never called, a service without provider health).
pub(crate) fn attempts(s: &Scope, matchers: &str, window: &str) -> String {
    let calls = calls(s, matchers, window);
    let refused = s.agg(
        "sum",
        "instance, provider",
        &format!(
            "rate({}[{window}])",
            s.sel(&gatewayz_catalogue::CIRCUIT_BREAKER_REJECTIONS, matchers)
        ),
    );
    format!("(\n  {calls}\n  + {refused}\n  or {calls}\n  or {refused}\n)")
}

/// Upstream calls per second by replica and provider (the response-time histogram's count).
pub(crate) fn calls(s: &Scope, matchers: &str, window: &str) -> String {
    s.agg(
        "sum",
        "instance, provider",
        &format!(
            "rate({}[{window}])",
            s.series(
                gatewayz_catalogue::PROVIDER_RESPONSE_TIME.name,
                "_count",
                matchers
            )
        ),
    )
}

/// The fleet's value of a per-replica ratio gauge (a health score, an availability ratio) by
/// provider: each replica's value weighted by `weights` (per replica and provider, such as
/// [`attempts`]), summed, then divided by the weights of the replicas that have a value. Sum,
/// then divide: a replica that judged a provider on a handful of calls weighs a handful of
/// calls, not half the fleet. No sample when no replica with a value made an attempt.
pub(crate) fn weighted(s: &Scope, gauge: &str, weights: &str) -> String {
    let on = s.by("instance, provider");
    let by = s.by("provider");
    let head = if by.is_empty() {
        "sum".to_owned()
    } else {
        format!("sum by ({by})")
    };
    format!(
        "{head} (\n  ({gauge}) * on ({on}) {weights}\n)\n/ ({head} (\n  {weights}\n    and on ({on}) ({gauge})\n) > 0)"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_select_and_keep_the_deployment() {
        let mut selector = Selector::default();
        selector
            .matchers
            .insert("cluster".to_owned(), "eu-1".to_owned());
        let def = &gatewayz_catalogue::TOKENS_USED;
        assert_eq!(
            Scope::rules(&selector).sum_rate(def, "model", "", "5m"),
            r#"sum by (job, cluster, model) (rate(tokens_used_total{job="gatewayz", cluster="eu-1"}[5m]))"#
        );
        assert_eq!(
            Scope::dashboard(&selector).sum_rate(def, "", r#"model=~"$model""#, "$__rate_interval"),
            r#"sum(rate(tokens_used_total{job="$job", cluster="$cluster", instance=~"$instance", model=~"$model"}[$__rate_interval]))"#
        );
        assert_eq!(
            Scope::library(&selector).quantile(
                0.5,
                &gatewayz_catalogue::TIME_TO_FIRST_TOKEN,
                "model",
                "",
                "5m"
            ),
            r#"histogram_quantile(0.5, sum by (le, model) (rate(gatewayz_time_to_first_token_seconds_bucket{job="gatewayz", cluster="eu-1"}[5m])))"#
        );
    }
}
