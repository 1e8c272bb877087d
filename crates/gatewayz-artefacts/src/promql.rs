//! PromQL as text: Grafana variable substitution, and the PromQL library of `docs/promql.md`.
//! The expressions themselves are built by the crate-private `expr` module.
//!
//! Dashboard targets contain Grafana variables (`$provider`, `$__rate_interval`, ...) that
//! Prometheus cannot parse. [`substitute`] replaces them the way Grafana's Prometheus data
//! source does, so a test can parse every target, or send it to a real Prometheus. A
//! [`Substitution`] made for a dashboard knows its variables: the deployment's `job` (and extra
//! matchers) take their one configured value, the multi-value ones (`instance`, `provider`,
//! ...) stand for "All" until given values:
//!
//! ```
//! use gatewayz_artefacts::{Deployment, dashboards::{self, Board}, promql::{Substitution, substitute}};
//!
//! let deployment = Deployment::default();
//! let uid = dashboards::uid(&deployment, Board::ProviderHealth);
//! let all = dashboards::all(&deployment);
//! let provider_health = all.iter().find(|d| d.uid == uid).unwrap();
//! let expr = r#"sum(rate(tokens_used_total{job="$job", instance=~"$instance", provider=~"$provider"}[$__rate_interval]))"#;
//! let values = Substitution::for_dashboard(provider_health)
//!     .with("provider", &["openrouter", "groq"]);
//! assert_eq!(
//!     substitute(expr, &values)?,
//!     r#"sum(rate(tokens_used_total{job="gatewayz", instance=~".*", provider=~"(openrouter|groq)"}[1m]))"#
//! );
//! # Ok::<(), gatewayz_artefacts::Error>(())
//! ```

use std::collections::BTreeMap;

use crate::{
    Error,
    dashboards::{Dashboard, Selection, Variable},
};

/// Concrete values for the Grafana variables of a dashboard.
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
    /// The declared variables and how each is selected by default.
    declared: BTreeMap<String, Selection>,
    /// Values chosen with [`with`](Self::with).
    values: BTreeMap<String, Vec<String>>,
}

impl Default for Substitution {
    fn default() -> Self {
        Substitution {
            rate_interval: "1m".to_owned(),
            interval: "15s".to_owned(),
            range: "1h".to_owned(),
            datasource: "prometheus".to_owned(),
            declared: BTreeMap::new(),
            values: BTreeMap::new(),
        }
    }
}

impl Substitution {
    /// The variables of `dashboard`, each at its default: single-value ones at their value,
    /// multi-value ones at "All".
    pub fn for_dashboard(dashboard: &Dashboard) -> Substitution {
        let mut substitution = Substitution::default();
        for variable in &dashboard.variables {
            if let Variable::Query {
                name, selection, ..
            } = variable
            {
                substitution
                    .declared
                    .insert((*name).to_owned(), selection.clone());
            }
        }
        substitution
    }

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
            _ => match (self.declared.get(name)?, self.values.get(name)) {
                // Grafana does not regex-escape a variable that is neither multi-value nor
                // "All": the dashboards match those with `=`.
                (Selection::One(_), Some(chosen)) if chosen.len() == 1 => chosen[0].clone(),
                (Selection::One(default), _) => default.clone(),
                (Selection::Many, chosen) => match chosen.map(Vec::as_slice) {
                    None | Some([]) => ".*".to_owned(),
                    Some([one]) if one == "$__all" => ".*".to_owned(),
                    Some([one]) => regex_escape(one),
                    Some(many) => {
                        let escaped: Vec<String> = many.iter().map(|v| regex_escape(v)).collect();
                        format!("({})", escaped.join("|"))
                    }
                },
            },
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
/// dashboard variables `values` was made for ([`Substitution::for_dashboard`]). Anything else,
/// including `${name:format}` forms, is an error naming the variable.
///
/// # Errors
/// [`Error::Variable`] for an unknown variable or an unclosed `${`.
pub fn substitute(text: &str, values: &Substitution) -> Result<String, Error> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        rest = &rest[at + 1..];
        let (name, after) = if let Some(braced) = rest.strip_prefix('{') {
            let end = braced
                .find('}')
                .ok_or_else(|| Error::Variable(format!("unclosed `${{` in {text:?}")))?;
            (&braced[..end], &braced[end + 1..])
        } else {
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            (&rest[..end], &rest[end..])
        };
        let value = values.value(name).ok_or_else(|| {
            Error::Variable(format!("unknown Grafana variable `${name}` in {text:?}"))
        })?;
        out.push_str(&value);
        rest = after;
    }
    out.push_str(rest);
    Ok(out)
}

// --- the library ---------------------------------------------------------------------------

mod questions;

pub use questions::{Query, library};

#[cfg(test)]
mod tests {
    use super::*;

    fn declared() -> Substitution {
        let mut values = Substitution::default();
        values.declared.insert("model".to_owned(), Selection::Many);
        values
            .declared
            .insert("job".to_owned(), Selection::One("gatewayz".to_owned()));
        values
    }

    #[test]
    fn multi_value_variables_are_regex_escaped_and_default_to_all() {
        let values = declared().with("model", &["gpt-4o.mini"]);
        assert_eq!(
            substitute(r#"x{model=~"$model"}"#, &values).unwrap(),
            r#"x{model=~"gpt-4o\\.mini"}"#
        );
        assert_eq!(
            substitute(r#"x{model=~"$model"}"#, &declared()).unwrap(),
            r#"x{model=~".*"}"#
        );
    }

    #[test]
    fn single_value_variables_take_their_value_as_is() {
        assert_eq!(
            substitute(r#"x{job="$job"}"#, &declared()).unwrap(),
            r#"x{job="gatewayz"}"#
        );
        assert_eq!(
            substitute(r#"x{job="$job"}"#, &declared().with("job", &["other"])).unwrap(),
            r#"x{job="other"}"#
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
        assert!(error.to_string().contains("$__range_s"), "{error}");
        let error = substitute(r#"x{job="$job"}"#, &Substitution::default()).unwrap_err();
        assert!(error.to_string().contains("$job"), "{error}");
    }
}
