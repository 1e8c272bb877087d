//! `prometheus/prometheus.yml`: a Prometheus that scrapes the deployment's replicas, loads its
//! rules and sends alerts to its Alertmanagers.
//!
//! The deployment's extra matchers are attached to its targets as labels, so that the series
//! carry what the rules and dashboards select. In a shared Prometheus, copy the gateway's
//! scrape job and the rule files into its configuration.

use crate::{Deployment, generated_notice, rules, yaml::Yaml};

/// The job name of Prometheus's own scrape.
pub const SELF_JOB: &str = "prometheus";

/// `prometheus.yml` for `deployment`; the rule files are expected in `rules/` next to it.
pub fn config(deployment: &Deployment) -> String {
    let scrape = &deployment.scrape;
    let prometheus = &deployment.prometheus;
    let alerting = if prometheus.alertmanagers.is_empty() {
        Yaml::Seq(Vec::new())
    } else {
        Yaml::Seq(vec![Yaml::map([(
            "static_configs",
            Yaml::Seq(vec![Yaml::map([(
                "targets",
                Yaml::strs(&prometheus.alertmanagers),
            )])]),
        )])])
    };
    let mut targets = vec![("targets", Yaml::strs(&scrape.targets))];
    if !deployment.selector.matchers.is_empty() {
        targets.push((
            "labels",
            Yaml::map(
                deployment
                    .selector
                    .matchers
                    .iter()
                    .map(|(label, value)| (label.clone(), Yaml::str(value))),
            ),
        ));
    }
    let mut job = vec![
        ("job_name", Yaml::str(&deployment.selector.job)),
        ("metrics_path", Yaml::str(&scrape.metrics_path)),
        ("scheme", Yaml::str(scrape.scheme.as_str())),
    ];
    if let Some(file) = &scrape.credentials_file {
        job.push((
            "authorization",
            Yaml::map([("credentials_file", Yaml::str(file))]),
        ));
    }
    job.push(("static_configs", Yaml::Seq(vec![Yaml::map(targets)])));
    let mut scrape_configs = vec![Yaml::map(job).commented(format!(
        "Every replica, one target each; Prometheus adds `instance`. The rules and dashboards \
         select\n{{{}}}:\nkeep the job name and these labels if you replace static_configs \
         with service discovery.",
        deployment.selector.promql()
    ))];
    if prometheus.scrape_itself {
        scrape_configs.push(Yaml::map([
            ("job_name", Yaml::str(SELF_JOB)),
            (
                "static_configs",
                Yaml::Seq(vec![Yaml::map([(
                    "targets",
                    Yaml::strs([prometheus.target()]),
                )])]),
            ),
        ]));
    }
    let root = Yaml::map([
        (
            "global",
            Yaml::map([
                ("scrape_interval", Yaml::str(scrape.interval.as_str())),
                ("scrape_timeout", Yaml::str(scrape.timeout.as_str())),
                ("evaluation_interval", Yaml::str(scrape.interval.as_str())),
            ]),
        ),
        (
            "rule_files",
            Yaml::strs(
                rules::files(deployment)
                    .iter()
                    .map(|f| format!("rules/{}", f.file)),
            ),
        ),
        ("alerting", Yaml::map([("alertmanagers", alerting)])),
        ("scrape_configs", Yaml::Seq(scrape_configs)),
    ]);
    let mut text = crate::yaml::document(
        &format!(
            "{}\nScrapes {} every {}, loads the rules, sends alerts to the Alertmanagers. Run \
             from this directory:\n  prometheus --config.file=prometheus.yml \
             --storage.tsdb.path=data",
            generated_notice(&deployment.selector),
            scrape.metrics_path,
            scrape.interval,
        ),
        &root,
    );
    text.push_str(
        "\n# Long-term storage and a global view across Prometheus servers: send everything (or \
         only the\n# recording rules, with write_relabel_configs) to Thanos Receive, Mimir or \
         VictoriaMetrics.\n# remote_write:\n#   - url: http://mimir.example:9009/api/v1/push\n",
    );
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_carry_the_deployments_matchers() {
        let mut deployment = Deployment::default();
        deployment
            .selector
            .matchers
            .insert("cluster".to_owned(), "eu-1".to_owned());
        deployment.scrape.targets = vec!["10.0.0.1:8080".to_owned(), "10.0.0.2:8080".to_owned()];
        let text = config(&deployment);
        assert!(
            text.contains(
                "    static_configs:\n      - targets:\n          - '10.0.0.1:8080'\n          - \
                 '10.0.0.2:8080'\n        labels:\n          cluster: eu-1\n"
            ),
            "{text}"
        );
    }

    #[test]
    fn prometheus_scrapes_itself_only_when_asked() {
        let mut deployment = Deployment::default();
        assert!(config(&deployment).contains("job_name: prometheus"));
        deployment.prometheus.scrape_itself = false;
        assert!(!config(&deployment).contains("job_name: prometheus"));
    }
}
