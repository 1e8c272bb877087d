//! The generated Markdown: `docs/promql.md` (the PromQL library and the recording rules) and
//! `docs/alerts.md` (every alert and its runbook). `docs/metrics.md` comes from
//! `gatewayz_catalogue::docs::reference_markdown`, the page `/prometheus/metrics/docs` serves.

use std::fmt::Write;

use crate::{
    Deployment, alertmanager,
    config::{PAGE, TICKET, WINDOWS},
    dashboards, generated_notice,
    promql::library,
    rules::{
        self, Case, Rule, Severity,
        incidents::{Incident, incidents},
        slo::{self, Urgency},
    },
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
         - **Unknown is absent.** A provider with too few calls to judge has status `unknown` \
         and no score series at all (the recorder leaves a NaN gauge out): a provider missing \
         from a score query is unknown, not healthy. The fleet's score in the recording rules \
         still filters with `>= 0` (`NaN >= 0` is false), so that a replica on a recorder that \
         shows NaN cannot turn it into NaN.\n\
         - **Per-replica ratios: weight, do not average.** The health score and its inputs are \
         ratios each replica computes over its own calls. Across replicas, weight each by the \
         attempts it made (`sum(score * attempts) / sum(attempts)`): an average gives a replica \
         that judged on three calls the weight of one that judged on three thousand.\n\
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
         Loaded from `prometheus/rules/recording.yml` and, for the service level objectives, \
         `prometheus/rules/slo.yml`. They give the view across replicas \
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
         Clients come first: the service level objectives below page when their error \
         budget burns fast (multi-window, multi-burn-rate alerts, as the Google SRE workbook, \
         Sloth and Pyrra do it) and open a ticket when it burns too fast to last the window. \
         Causes (a provider down that failover hides, a circuit flapping, spend) are warnings; \
         a provider outage pages only while its clients feel it.\n\n\
         Every alert is unit-tested with `promtool test rules` (`prometheus/tests/`): it fires \
         when it should, stays quiet at zero traffic, and stays quiet just below its \
         threshold; the cases follow the configured thresholds. The incident suite below \
         replays whole incidents against all of them. Expressions are built on recording rules \
         whose divisions are guarded, so an idle gateway produces no sample, never a NaN \
         alert.\n\n\
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
            for_ = for_text(alert),
            meaning = runbooks::summary(&alert.runbook),
        );
    }
    slo_section(&mut md, deployment);
    incidents_section(&mut md, &incidents(deployment));
    let group_by = alertmanager::group_by(deployment);
    let _ = write!(
        md,
        "\n## Routing\n\n\
         `alertmanager/alertmanager.yml` (checked with `amtool check-config`; routing tested \
         with `amtool config routes test`):\n\n\
         - `{watchdog}` goes to the dead man's switch alone (receiver `{deadman}`, every \
         {deadman_repeat}, `alertmanager.deadman_url`): a service such as healthchecks.io, Dead \
         Man's Snitch or a PagerDuty / Opsgenie heartbeat that alarms when it stops hearing from \
         it, that is when Prometheus, its rules, Alertmanager or the path between them is \
         broken;\n\
         - `severity=\"critical\"` pages (receiver `{pager}`) and also reaches the chat;\n\
         - `severity=\"warning\"` goes to the chat webhook (receiver `{chat}`);\n\
         - alerts are grouped by `{group_by}`: one notification per alert, deployment, \
         provider or model (and page or ticket), however many replicas report it.\n\n\
         Inhibitions (the source alert mutes the targets while both share the listed labels):\n\n",
        watchdog = alertmanager::WATCHDOG,
        deadman = alertmanager::DEADMAN,
        deadman_repeat = deployment.alertmanager.deadman_repeat_interval,
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
        let matchers = |extra: &[&str]| {
            if extra.is_empty() {
                String::new()
            } else {
                format!(" `{{{}}}`", extra.join(", "))
            }
        };
        let _ = writeln!(
            md,
            "- `{}`{} mutes {}{} (same `{}`).",
            inhibition.source,
            matchers(&inhibition.source_matchers),
            targets.join(", "),
            matchers(&inhibition.target_matchers),
            inhibition.equal.join("`, `")
        );
    }
    md.push_str(
        "\n## Thresholds\n\n\
         Set in the deployment configuration, one table per alert (`[alerts.<key>]`, with its \
         `for`); regenerate after a change (`gatewayz-artefacts generate`, or `cargo xtask \
         codegen` in this repository), which rewrites the rules, their promtool cases and this \
         page. The defaults follow the health tracker's defaults (healthy from 0.8, unavailable \
         below 0.5). The service level objectives are in `[slo]`.\n\n\
         | alert | key | threshold | value | for |\n| --- | --- | --- | --- | --- |\n",
    );
    for alert in &alerts {
        let key = config_key(alert);
        let title = alert.title(&alerts);
        if alert.thresholds.is_empty() {
            let _ = writeln!(md, "| `{title}` | {key} | | | {} |", for_text(alert));
        }
        for (what, value) in &alert.thresholds {
            let _ = writeln!(
                md,
                "| `{title}` | {key} | {what} | {value} | {} |",
                for_text(alert)
            );
        }
    }
    md.push('\n');
    // One section per alert name; rules sharing a name (a page and a ticket) share it.
    let mut seen: Vec<&str> = Vec::new();
    for alert in &alerts {
        if seen.contains(&alert.alert) {
            continue;
        }
        seen.push(alert.alert);
        let namesakes: Vec<&rules::AlertRule> =
            alerts.iter().filter(|a| a.alert == alert.alert).collect();
        let _ = writeln!(md, "## {}\n", alert.alert);
        for rule in &namesakes {
            let mut labels: Vec<String> = rule
                .all_labels()
                .iter()
                .filter(|(k, _)| !deployment.selector.labels().contains(&k.as_str()))
                .map(|(k, v)| format!("{k}: `{v}`"))
                .collect();
            labels.push(format!("for: `{}`", for_text(rule)));
            if let Some(keep) = &rule.keep_firing_for {
                labels.push(format!("keep_firing_for: `{keep}`"));
            }
            let _ = writeln!(
                md,
                "- {} (configured in {})\n- summary: {}\n- first look: {}\n",
                labels.join(", "),
                config_key(rule),
                code_template(&rule.summary),
                dashboard_title(deployment, &rule.dashboard),
            );
            let _ = writeln!(md, "```promql\n{}\n```\n", rule.expr);
        }
        // The runbook's sections, one level down.
        for title in runbooks::SECTIONS {
            let _ = writeln!(
                md,
                "### {title}\n\n{}\n",
                runbooks::section(&alert.runbook, title).unwrap_or_default()
            );
        }
        md.push_str("### Tested (`promtool test rules`)\n\n");
        for rule in &namesakes {
            for test in &rule.tests {
                let outcome = match test.case {
                    Case::Fires => "fires",
                    Case::ZeroTraffic => "quiet at zero traffic",
                    Case::BelowThreshold => "quiet below the threshold",
                };
                let which = if namesakes.len() > 1 {
                    format!("{} ", rule.severity.as_str())
                } else {
                    String::new()
                };
                let _ = writeln!(
                    md,
                    "- {which}{outcome}: {}, evaluated at {}",
                    test.name, test.eval_time
                );
            }
        }
        md.push('\n');
    }
    md
}

/// Where an alert is configured: `[alerts.<key>]`, `[slo]` for the burn-rate alerts.
fn config_key(alert: &rules::AlertRule) -> String {
    match alert.config_key {
        "slo" => "`[slo]`".to_owned(),
        "watchdog" => "`[alertmanager]` (`deadman_url`)".to_owned(),
        key => format!("`[alerts.{key}]`"),
    }
}

/// An alert's `for`, `0s` when it fires at once.
fn for_text(alert: &rules::AlertRule) -> String {
    if alert.for_.millis() == 0 {
        "0s".to_owned()
    } else {
        alert.for_.to_string()
    }
}

/// The objectives, their recorded series and their alerts' windows.
fn slo_section(md: &mut String, deployment: &Deployment) {
    let _ = write!(
        md,
        "\n## Service level objectives\n\n\
         Set in `[slo]` of the deployment configuration. Each objective is recorded as an \
         error ratio over {windows}, summed across replicas before dividing, and as a burn \
         rate (error ratio / error budget); `slo:gatewayz_slo_error_budget_remaining:ratio` \
         (`model_slo:` per model) is the budget left over the objective's window, and \
         `slo:gatewayz_slo_objective:ratio` the objective itself. The Service Levels dashboard \
         reads them.\n\n\
         | objective | promise | error budget | page (critical) | ticket (warning) |\n\
         | --- | --- | --- | --- | --- |\n",
        windows = WINDOWS.join(", "),
    );
    for objective in slo::objectives(deployment) {
        let _ = writeln!(
            md,
            "| [`{}`](#{}) | {} | {} | {} | {} |",
            objective.kind.alert(),
            objective.kind.alert().to_lowercase(),
            objective.promise(),
            slo::percent(objective.budget),
            slo::condition_in_words(Urgency::Page),
            slo::condition_in_words(Urgency::Ticket),
        );
    }
    let spent = |factor: f64, window: &str| {
        let hours = crate::config::parse_millis(window).unwrap_or_default() as f64 / 3_600_000.0;
        slo::percent(factor * hours / (30.0 * 24.0))
    };
    let shares: Vec<String> = PAGE
        .iter()
        .chain(&TICKET)
        .map(|p| {
            format!(
                "{}× over {} spends {} of a 30-day budget",
                p.factor,
                p.long,
                spent(p.factor, p.long)
            )
        })
        .collect();
    let _ = writeln!(
        md,
        "\nThe factors are the workbook's: {}. Each alert also needs its short window (a \
         twelfth of the long one) to burn as fast, so that it resolves soon after recovery.\n",
        shares.join("; ")
    );
}

/// The incident suite: what each incident must do, and what the alerts did.
fn incidents_section(md: &mut String, incidents: &[Incident]) {
    md.push_str(
        "\n## The incident suite\n\n\
         Whole incidents replayed against these rules by `promtool test rules` \
         (`prometheus/tests/incident-*.yml`, one file each, generated with the rules): three replicas with \
         steady traffic (600 client requests a minute each) and six hours of healthy history \
         before each incident, so every page window holds real history. For every incident the \
         generator computes, from the same series and this configuration, the minute each \
         alert fires and resolves; promtool checks the minute before every change and the \
         minute of it, and every few minutes in between, so a rule that fires earlier or \
         later, resolves in the middle of an incident or fires twice fails `cargo xtask test`. \
         Times are from the start of the incident; promtool evaluates the rules every minute \
         (five for the day-long incident, an hour for the week-long one) and alerts read the \
         series recorded at the same instant, where Prometheus may read them one evaluation \
         interval later. The *must* column is what the shipped defaults guarantee (a test of \
         the generator holds it); with other objectives or thresholds the last two columns say \
         what yours do, and promtool holds that: a looser objective pages later or not at all \
         (at 99.5%, 3% of requests failing burns the budget at exactly 6x, which no page \
         window exceeds).\n\n\
         | incident | must | time to page | what fired |\n| --- | --- | --- | --- |\n",
    );
    for incident in incidents {
        let page = match incident.time_to_page() {
            Some(minutes) => format!("{minutes} min"),
            None => match incident.first(Severity::Warning) {
                Some(minutes) => format!("no page (warning at {minutes} min)"),
                None => "no page".to_owned(),
            },
        };
        let mut results = incident.results();
        if results.is_empty() {
            results.push("nothing".to_owned());
        }
        if !incident.quiet.is_empty() {
            results.push(format!(
                "checked quiet: every other alert ({})",
                incident.quiet.len()
            ));
        }
        let _ = writeln!(
            md,
            "| {} | {} | {page} | {} |",
            incident.title,
            incident.must,
            results.join("; ")
        );
    }
    md.push('\n');
}

/// A Go template shown as code, so `{{ $labels.provider }}` reads as a placeholder.
fn code_template(template: &str) -> String {
    format!("`{template}`")
}
