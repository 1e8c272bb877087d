//! The generated Markdown: `docs/promql.md` (the PromQL library and the recording rules) and
//! `docs/alerts.md` (every alert and its runbook). `docs/metrics.md` comes from
//! `gatewayz_registry::docs::reference_markdown`, the page `/prometheus/metrics/docs` serves.

use std::fmt::Write;

use crate::{
    GENERATED_BY, dashboards,
    promql::library,
    rules::{self, Case, Rule, thresholds},
    stack,
};

fn notice(source: &str) -> String {
    format!("<!-- {GENERATED_BY} from {source}; do not edit. -->\n\n")
}

fn dashboard_title(uid: &str) -> String {
    dashboards::all()
        .into_iter()
        .find(|d| d.uid == uid)
        .map(|d| format!("{} (`dashboards/grafana/{}`)", d.title, d.file))
        .unwrap_or_else(|| uid.to_owned())
}

/// `docs/promql.md`.
pub fn promql_markdown() -> String {
    let mut md = notice("xtask/src/promql/questions.rs and xtask/src/rules/");
    md.push_str(
        "# PromQL library\n\n\
         The questions operators ask about an LLM gateway, and the query that answers each, \
         ready for the Prometheus UI. Every query here is parsed in `cargo test`, and every \
         metric and label it names is checked against the catalogue (see \
         [metrics.md](metrics.md)). The Grafana dashboards use the same queries with \
         `$__rate_interval` and the `$provider` / `$model` variables.\n\n\
         ## Conventions\n\n\
         - **Sum, then divide.** Ratios sum both sides across replicas first \
         (`sum by (provider) (rate(...))`), then divide. A ratio of per-replica ratios is wrong \
         whenever replicas see different traffic.\n\
         - **No traffic, no answer.** Denominators are written `(... > 0)`: an idle provider \
         returns no sample instead of NaN (or +Inf), so graphs show a gap and alerts stay \
         quiet.\n\
         - **Health gauges can be NaN.** A provider with too few calls to judge publishes NaN \
         scores (status `unknown`). `gatewayz_provider_health_score >= 0` keeps only real \
         scores: `NaN >= 0` is false.\n\
         - **Histograms: buckets first.** `histogram_quantile(0.95, sum by (le, ...) \
         (rate(x_bucket[5m])))`. Quantiles of separate replicas cannot be averaged; buckets \
         can be summed.\n\
         - **Counters only through `rate` or `increase`.** A raw counter resets to 0 when a \
         replica restarts.\n\
         - **Money has units.** `gatewayz_cost_usd_total` is in dollars. `increase(...[1h])` is \
         dollars per hour; `rate(...)` is dollars per second (× 3600 for an hour). A \
         \"$100/hour\" threshold on a per-minute figure is off by 60×.\n\
         - **Database-derived gauges** (`active_api_keys`, `active_subscriptions`, \
         `trial_active`) hold the same value on every replica: `max`, not `sum`.\n\
         - **One-hot states.** `gatewayz_provider_status{status}` and \
         `gatewayz_circuit_breaker_state{state}` have one series per state, the current one at \
         1: filter with `== 1`.\n\n",
    );
    let queries = library();
    let mut sections: Vec<&str> = Vec::new();
    for query in &queries {
        if !sections.contains(&query.section) {
            sections.push(query.section);
        }
    }
    for section in sections {
        let _ = writeln!(md, "## {section}\n");
        for query in queries.iter().filter(|q| q.section == section) {
            let _ = writeln!(
                md,
                "### {}\n\n```promql\n{}\n```\n\n{}\n",
                query.question, query.promql, query.notes
            );
        }
    }
    md.push_str(
        "## Recording rules\n\n\
         Loaded from `dashboards/prometheus/rules/recording.yml`. They give the fleet-wide view \
         across replicas (aggregated `by` the labels in their name's first part), are cheap to \
         query, and are what to send to long-term storage when the raw series are too many. \
         Names follow `level:metric:operations`.\n\n\
         | series | meaning |\n| --- | --- |\n",
    );
    for rule in rules::recording_rules() {
        let _ = writeln!(md, "| `{}` | {} |", rule.record, rule.help);
    }
    md.push('\n');
    for group in rules::groups() {
        for rule in &group.rules {
            if let Rule::Record(r) = rule {
                let _ = writeln!(md, "**`{}`**\n\n```promql\n{}\n```\n", r.record, r.expr);
            }
        }
    }
    md
}

/// `docs/alerts.md`.
pub fn alerts_markdown() -> String {
    let mut md = notice("xtask/src/rules/alerts.rs");
    let alerts = rules::alerts();
    md.push_str(
        "# Alerts and runbooks\n\n\
         The alerting rules in `dashboards/prometheus/rules/alerts.yml`, what each means, what \
         usually causes it and what to do. Each alert's `runbook_url` points at its section \
         here.\n\n\
         Every alert is unit-tested with `promtool test rules` (`dashboards/prometheus/tests/`): \
         it fires when it should, stays quiet at zero traffic (counters flat, health gauges \
         NaN), and stays quiet just below its threshold. Expressions are built on recording \
         rules whose divisions are guarded, so an idle gateway produces no sample, never a NaN \
         alert.\n\n\
         | alert | severity | for | fires when |\n| --- | --- | --- | --- |\n",
    );
    for alert in &alerts {
        let _ = writeln!(
            md,
            "| [`{name}`](#{anchor}) | {severity} | {for_} | {meaning} |",
            name = alert.alert,
            anchor = alert.alert.to_lowercase(),
            severity = alert.severity.as_str(),
            for_ = alert.for_,
            meaning = first_sentence(&alert.runbook.meaning),
        );
    }
    let _ = write!(
        md,
        "\n## Routing\n\n\
         `dashboards/alertmanager/alertmanager.yml` (checked with `amtool check-config`; \
         routing tested with `amtool config routes test`):\n\n\
         - `severity=\"critical\"` pages (receiver `{pager}`) and also reaches the chat;\n\
         - `severity=\"warning\"` goes to the chat webhook (receiver `{chat}`);\n\
         - alerts are grouped by `alertname`, `provider` and `model`: one notification per \
         alert and provider, however many replicas report it.\n\n\
         Inhibitions (the source alert mutes the targets while both share the listed labels):\n\n",
        pager = stack::PAGER,
        chat = stack::CHAT,
    );
    for inhibition in stack::inhibitions() {
        let targets: Vec<String> = inhibition
            .targets
            .iter()
            .map(|t| format!("`{t}`"))
            .collect();
        let _ = writeln!(
            md,
            "- `{}` mutes {} (same `{}`).",
            inhibition.source,
            targets.join(", "),
            inhibition.equal.join("`, `")
        );
    }
    let _ = write!(
        md,
        "\n## Thresholds\n\n\
         Set in `xtask/src/rules/alerts.rs` (module `thresholds`); change them there, adjust \
         the alert's promtool cases if their inputs straddle the new value, and run `cargo xtask \
         codegen`, which rewrites the rules, their tests and this page. The defaults follow the \
         health tracker's defaults (healthy from 0.8, unavailable below 0.5, latency score 0 at \
         30 s).\n\n\
         | threshold | value |\n| --- | --- |\n\
         | share of judging replicas calling a provider unavailable | ≥ {} |\n\
         | degraded health score | < {} |\n\
         | error ratio of inference attempts | > {} (from {} attempts/s) |\n\
         | p95 upstream latency | > {} s |\n\
         | share of attempts failing over | > {} (from {} failovers/s) |\n\
         | upstream spend, trailing hour | > ${} per hour |\n\
         | attempts on a model without success, 10 min | ≥ {} |\n\n",
        thresholds::UNAVAILABLE_REPLICA_SHARE,
        thresholds::DEGRADED_SCORE,
        thresholds::ERROR_RATIO,
        thresholds::MIN_REQUEST_RATE,
        thresholds::LATENCY_P95_SECONDS,
        thresholds::FAILOVER_SHARE,
        thresholds::MIN_FAILOVER_RATE,
        thresholds::COST_PER_HOUR_USD,
        thresholds::NO_SUCCESS_MIN_ATTEMPTS,
    );
    for alert in &alerts {
        let _ = writeln!(md, "## {}\n", alert.alert);
        let _ = writeln!(
            md,
            "- severity: `{}`, for: `{}`\n- summary: {}\n- first look: {}\n",
            alert.severity.as_str(),
            alert.for_,
            code_template(&alert.summary),
            dashboard_title(alert.dashboard),
        );
        let _ = writeln!(md, "```promql\n{}\n```\n", alert.expr);
        let _ = writeln!(md, "**Meaning.** {}\n", alert.runbook.meaning);
        md.push_str("**Likely causes.**\n\n");
        for cause in &alert.runbook.causes {
            let _ = writeln!(md, "- {cause}");
        }
        md.push_str("\n**What to do.**\n\n");
        for (i, action) in alert.runbook.actions.iter().enumerate() {
            let _ = writeln!(md, "{}. {action}", i + 1);
        }
        md.push_str("\n**Tested** (`promtool test rules`):\n\n");
        for test in &alert.tests {
            let outcome = match test.case {
                Case::Fires => "fires",
                Case::ZeroTraffic => "quiet at zero traffic",
                Case::BelowThreshold => "quiet below the threshold",
            };
            let _ = writeln!(
                md,
                "- {outcome}: {}, evaluated at {}",
                test.name, test.eval_time
            );
        }
        md.push('\n');
    }
    md
}

/// The first sentence of `text`.
fn first_sentence(text: &str) -> &str {
    text.find(". ").map_or(text, |end| &text[..=end])
}

/// A Go template shown as code, so `{{ $labels.provider }}` reads as a placeholder.
fn code_template(template: &str) -> String {
    format!("`{template}`")
}
