//! The generated Markdown: `docs/promql.md` (the PromQL library and the recording rules) and
//! `docs/alerts.md` (every alert and its runbook). `docs/metrics.md` comes from
//! `gatewayz_catalogue::docs::reference_markdown`, the page `/prometheus/metrics/docs` serves.

use std::fmt::Write;

use crate::{
    Deployment, alertmanager, dashboards, generated_notice,
    promql::library,
    rules::{self, Case, Rule},
    runbooks,
};

fn notice(deployment: &Deployment) -> String {
    format!("<!-- {} -->\n\n", generated_notice(&deployment.selector))
}

fn dashboard_title(deployment: &Deployment, uid: &str) -> String {
    dashboards::all(deployment)
        .into_iter()
        .find(|d| d.uid == uid)
        .map(|d| format!("{} (`grafana/{}`)", d.title, d.file))
        .unwrap_or_else(|| uid.to_owned())
}

/// `docs/promql.md`.
pub fn promql_markdown(deployment: &Deployment) -> String {
    let mut md = notice(deployment);
    md.push_str(&format!(
        "# PromQL library\n\n\
         The questions operators ask about an LLM gateway, and the query that answers each, \
         ready for the Prometheus UI. Every query here is parsed in `cargo test`, and every \
         metric and label it names is checked against the catalogue (see \
         [metrics.md](metrics.md)). Each selects the deployment's series (`{selector}`), so it \
         answers for this deployment alone in a Prometheus that others share. The Grafana \
         dashboards use the same queries with `$__rate_interval` and the `$job`, `$instance`, \
         `$provider` and `$model` variables.\n\n\
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
         - **One-hot states.** `gatewayz_provider_status{{status}}` and \
         `gatewayz_circuit_breaker_state{{state}}` have one series per state, the current one at \
         1: filter with `== 1`.\n\n",
        selector = deployment.selector.promql(),
    ));
    let queries = library(deployment);
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
    md.push_str(&format!(
        "## Recording rules\n\n\
         Loaded from `prometheus/rules/recording.yml`. They give the view across replicas \
         (aggregated `by` the labels in their name's first part, and by the deployment's own \
         labels, which every rule keeps: `{labels}`), are cheap to query, and are what to send to \
         long-term storage when the raw series are too many. Names follow \
         `level:metric:operations`.\n\n\
         | series | meaning |\n| --- | --- |\n",
        labels = deployment.selector.labels().join("`, `"),
    ));
    for rule in rules::recording_rules(deployment) {
        let _ = writeln!(md, "| `{}` | {} |", rule.record, rule.help);
    }
    md.push('\n');
    for group in rules::groups(deployment) {
        for rule in &group.rules {
            if let Rule::Record(r) = rule {
                let _ = writeln!(md, "**`{}`**\n\n```promql\n{}\n```\n", r.record, r.expr);
            }
        }
    }
    md
}

/// `docs/alerts.md`.
pub fn alerts_markdown(deployment: &Deployment) -> String {
    let mut md = notice(deployment);
    let alerts = rules::alerts(deployment);
    let _ = write!(
        md,
        "# Alerts and runbooks\n\n\
         The alerting rules in `prometheus/rules/alerts.yml`, what each means, what usually \
         causes it and what to do. Each alert's `runbook_url` points at its section here (or \
         where `alerts.runbook_url` of the deployment configuration says). Every alert selects \
         the deployment's series (`{selector}`) and keeps its labels, so alerts of two \
         deployments in one Prometheus and one Alertmanager never mix.\n\n\
         Every alert is unit-tested with `promtool test rules` (`prometheus/tests/`): it fires \
         when it should, stays quiet at zero traffic (counters flat, health gauges NaN), and \
         stays quiet just below its threshold; the cases follow the configured thresholds. \
         Expressions are built on recording rules whose divisions are guarded, so an idle \
         gateway produces no sample, never a NaN alert.\n\n\
         | alert | severity | for | fires when |\n| --- | --- | --- | --- |\n",
        selector = deployment.selector.promql(),
    );
    for alert in &alerts {
        let _ = writeln!(
            md,
            "| [`{name}`](#{anchor}) | {severity} | {for_} | {meaning} |",
            name = alert.alert,
            anchor = alert.alert.to_lowercase(),
            severity = alert.severity.as_str(),
            for_ = alert.for_,
            meaning = runbooks::summary(&alert.runbook),
        );
    }
    let group_by = alertmanager::group_by(deployment);
    let _ = write!(
        md,
        "\n## Routing\n\n\
         `alertmanager/alertmanager.yml` (checked with `amtool check-config`; routing tested \
         with `amtool config routes test`):\n\n\
         - `severity=\"critical\"` pages (receiver `{pager}`) and also reaches the chat;\n\
         - `severity=\"warning\"` goes to the chat webhook (receiver `{chat}`);\n\
         - alerts are grouped by `{group_by}`: one notification per alert, deployment and \
         provider, however many replicas report it.\n\n\
         Inhibitions (the source alert mutes the targets while both share the listed labels):\n\n",
        pager = alertmanager::PAGER,
        chat = alertmanager::CHAT,
        group_by = group_by.join("`, `"),
    );
    for inhibition in alertmanager::inhibitions(deployment) {
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
    md.push_str(
        "\n## Thresholds\n\n\
         Set in the deployment configuration, one table per alert (`[alerts.<key>]`, with its \
         `for`); regenerate after a change (`gatewayz-artefacts generate`, or `cargo xtask \
         codegen` in this repository), which rewrites the rules, their promtool cases and this \
         page. The defaults follow the health tracker's defaults (healthy from 0.8, unavailable \
         below 0.5, latency score 0 at 30 s).\n\n\
         | alert | key | threshold | value | for |\n| --- | --- | --- | --- | --- |\n",
    );
    for alert in &alerts {
        let key = format!("`alerts.{}`", alert.config_key);
        if alert.thresholds.is_empty() {
            let _ = writeln!(md, "| `{}` | {key} | | | {} |", alert.alert, alert.for_);
        }
        for (what, value) in &alert.thresholds {
            let _ = writeln!(
                md,
                "| `{}` | {key} | {what} | {value} | {} |",
                alert.alert, alert.for_
            );
        }
    }
    md.push('\n');
    for alert in &alerts {
        let _ = writeln!(md, "## {}\n", alert.alert);
        let _ = writeln!(
            md,
            "- severity: `{}`, for: `{}` (configured in `[alerts.{}]`)\n- summary: {}\n- first \
             look: {}\n",
            alert.severity.as_str(),
            alert.for_,
            alert.config_key,
            code_template(&alert.summary),
            dashboard_title(deployment, &alert.dashboard),
        );
        let _ = writeln!(md, "```promql\n{}\n```\n", alert.expr);
        // The runbook's sections, one level down.
        for title in runbooks::SECTIONS {
            let _ = writeln!(
                md,
                "### {title}\n\n{}\n",
                runbooks::section(&alert.runbook, title).unwrap_or_default()
            );
        }
        md.push_str("### Tested (`promtool test rules`)\n\n");
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

/// A Go template shown as code, so `{{ $labels.provider }}` reads as a placeholder.
fn code_template(template: &str) -> String {
    format!("`{template}`")
}
