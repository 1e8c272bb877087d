//! PromQL as text: Grafana variable substitution, small builders, and the PromQL library of
//! `docs/promql.md`.
//!
//! Dashboard targets contain Grafana variables (`$provider`, `$__rate_interval`, ...) that
//! Prometheus cannot parse. [`substitute`] replaces them the way Grafana's Prometheus data
//! source does, so a test can parse every target, or send it to a real Prometheus:
//!
//! ```
//! use xtask::promql::{Substitution, substitute};
//!
//! let expr = r#"sum by (provider) (rate(tokens_used_total{provider=~"$provider"}[$__rate_interval]))"#;
//! let values = Substitution::default().with("provider", &["openrouter", "groq"]);
//! assert_eq!(
//!     substitute(expr, &values).unwrap(),
//!     r#"sum by (provider) (rate(tokens_used_total{provider=~"(openrouter|groq)"}[1m]))"#
//! );
//! assert_eq!(
//!     substitute(expr, &Substitution::default()).unwrap(),
//!     r#"sum by (provider) (rate(tokens_used_total{provider=~".*"}[1m]))"#
//! );
//! ```

use std::collections::BTreeMap;

use gatewayz_registry::MetricDef;

/// Concrete values for the Grafana variables of a dashboard.
///
/// Dashboard variables not given a value (with [`with`](Self::with)) stand for "All", which
/// every gatewayz dashboard variable renders as the regex `.*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Substitution {
    /// `$__rate_interval`: Grafana makes it at least four scrape intervals; `1m` by default.
    pub rate_interval: String,
    /// `$__interval`: the step between points; `15s` by default.
    pub interval: String,
    /// `$__range`: the panel's time range; `1h` by default.
    pub range: String,
    /// `${datasource}`: the data source uid; `prometheus` by default.
    pub datasource: String,
    values: BTreeMap<String, Vec<String>>,
}

impl Default for Substitution {
    fn default() -> Self {
        Substitution {
            rate_interval: "1m".to_owned(),
            interval: "15s".to_owned(),
            range: "1h".to_owned(),
            datasource: "prometheus".to_owned(),
            values: BTreeMap::new(),
        }
    }
}

impl Substitution {
    /// Selects `values` for the dashboard variable `name` (an empty slice means "All").
    pub fn with(mut self, name: &str, values: &[&str]) -> Self {
        self.values.insert(
            name.to_owned(),
            values.iter().map(|v| (*v).to_owned()).collect(),
        );
        self
    }

    /// Sets `$__rate_interval`, `$__interval` and `$__range`.
    pub fn intervals(mut self, rate_interval: &str, interval: &str, range: &str) -> Self {
        self.rate_interval = rate_interval.to_owned();
        self.interval = interval.to_owned();
        self.range = range.to_owned();
        self
    }

    fn value(&self, name: &str) -> Option<String> {
        Some(match name {
            "__rate_interval" => self.rate_interval.clone(),
            "__interval" => self.interval.clone(),
            "__range" => self.range.clone(),
            "datasource" => self.datasource.clone(),
            _ if crate::dashboards::VARIABLE_NAMES.contains(&name) => {
                match self.values.get(name).map(Vec::as_slice) {
                    None | Some([]) => ".*".to_owned(),
                    Some([one]) if one == "$__all" => ".*".to_owned(),
                    Some([one]) => regex_escape(one),
                    Some(many) => {
                        let escaped: Vec<String> = many.iter().map(|v| regex_escape(v)).collect();
                        format!("({})", escaped.join("|"))
                    }
                }
            }
            _ => return None,
        })
    }
}

/// Escapes a variable value for a PromQL regex matcher inside double quotes, as Grafana does
/// for multi-value variables: regex metacharacters get a backslash, written `\\` in PromQL.
fn regex_escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str(r"\\\\"),
            '"' => out.push_str(r#"\""#),
            c if "$^*{}[]'+?.()|".contains(c) => {
                out.push_str(r"\\");
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// Replaces every Grafana variable in `text` (`$name`, `${name}`) with its value in `values`.
///
/// Supported: `$__rate_interval`, `$__interval`, `$__range`, `${datasource}`, and the
/// dashboard variables of [`dashboards`](crate::dashboards) (`$provider`, `$model`, `$route`).
/// Anything else, including `${name:format}` forms, is an error naming the variable.
pub fn substitute(text: &str, values: &Substitution) -> crate::Result<String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        rest = &rest[at + 1..];
        let (name, after) = if let Some(braced) = rest.strip_prefix('{') {
            let end = braced
                .find('}')
                .ok_or_else(|| format!("unclosed `${{` in {text:?}"))?;
            (&braced[..end], &braced[end + 1..])
        } else {
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            (&rest[..end], &rest[end..])
        };
        let value = values
            .value(name)
            .ok_or_else(|| format!("unknown Grafana variable `${name}` in {text:?}"))?;
        out.push_str(&value);
        rest = after;
    }
    out.push_str(rest);
    Ok(out)
}

// --- builders ------------------------------------------------------------------------------

/// `name{matchers}` (or `name` alone when `matchers` is empty).
pub(crate) fn sel(def: &MetricDef, matchers: &str) -> String {
    series(def.name, "", matchers)
}

/// `name_suffix{matchers}`, for a histogram's `_bucket`, `_sum` and `_count` series.
pub(crate) fn series(name: &str, suffix: &str, matchers: &str) -> String {
    if matchers.is_empty() {
        format!("{name}{suffix}")
    } else {
        format!("{name}{suffix}{{{matchers}}}")
    }
}

/// Joins matchers with `, `, skipping empty ones.
pub(crate) fn and(matchers: &[&str]) -> String {
    matchers
        .iter()
        .filter(|m| !m.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join(", ")
}

/// `sum by (labels) ` or `sum`, ready for its parenthesised argument.
fn sum_by(labels: &str) -> String {
    if labels.is_empty() {
        "sum".to_owned()
    } else {
        format!("sum by ({labels}) ")
    }
}

/// `sum by (by) (rate(counter{matchers}[window]))`.
pub(crate) fn sum_rate(def: &MetricDef, by_labels: &str, matchers: &str, window: &str) -> String {
    format!(
        "{}(rate({}[{window}]))",
        sum_by(by_labels),
        sel(def, matchers)
    )
}

/// `sum by (by) (increase(counter{matchers}[window]))`.
pub(crate) fn sum_increase(
    def: &MetricDef,
    by_labels: &str,
    matchers: &str,
    window: &str,
) -> String {
    format!(
        "{}(increase({}[{window}]))",
        sum_by(by_labels),
        sel(def, matchers)
    )
}

/// `histogram_quantile(q, sum by (le, by) (rate(histogram_bucket{matchers}[window])))`.
pub(crate) fn quantile(
    q: f64,
    def: &MetricDef,
    by_labels: &str,
    matchers: &str,
    window: &str,
) -> String {
    let by_labels = if by_labels.is_empty() {
        "le".to_owned()
    } else {
        format!("le, {by_labels}")
    };
    format!(
        "histogram_quantile({q}, sum by ({by_labels}) (rate({}[{window}])))",
        series(def.name, "_bucket", matchers)
    )
}

/// `numerator / (denominator > 0)`: no sample, rather than NaN or +Inf, when the denominator
/// is zero (no traffic).
pub(crate) fn ratio(numerator: &str, denominator: &str) -> String {
    format!("{numerator}\n  / ({denominator} > 0)")
}

/// Filters a gauge that is NaN while its provider has too little traffic: `NaN >= 0` is false.
pub(crate) fn known(gauge: &str) -> String {
    format!("{gauge} >= 0")
}

// --- the library ---------------------------------------------------------------------------

mod questions;

pub use questions::{Query, library};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_values_are_regex_escaped() {
        let values = Substitution::default().with("model", &["gpt-4o.mini"]);
        assert_eq!(
            substitute(r#"x{model=~"$model"}"#, &values).unwrap(),
            r#"x{model=~"gpt-4o\\.mini"}"#
        );
    }

    #[test]
    fn braced_and_builtin_variables_are_replaced() {
        let values = Substitution::default().intervals("2m", "30s", "6h");
        assert_eq!(
            substitute(
                "${datasource} [$__rate_interval] [$__interval] [$__range]",
                &values
            )
            .unwrap(),
            "prometheus [2m] [30s] [6h]"
        );
    }

    #[test]
    fn unknown_variables_are_errors() {
        let error = substitute("x[$__range_s]", &Substitution::default()).unwrap_err();
        assert!(error.contains("$__range_s"), "{error}");
    }
}
