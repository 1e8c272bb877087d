//! Grafana file provisioning: the dashboard provider and the Prometheus data source.
//!
//! The dashboards do not depend on the data source's uid: they pick a data source through their
//! `datasource` variable, which defaults to the configured data source's name.

use crate::{Deployment, generated_notice, yaml::Yaml};

/// `grafana/provisioning/dashboards/gatewayz.yml`: a file provider for the JSON dashboards.
pub fn dashboards_provider(deployment: &Deployment) -> String {
    let grafana = &deployment.grafana;
    crate::yaml::document(
        &format!(
            "{}\nGrafana dashboard provider: copy or mount grafana/*.json at {}\nand this file \
             in /etc/grafana/provisioning/dashboards/.",
            generated_notice(&deployment.selector),
            grafana.dashboards_path
        ),
        &Yaml::map([
            ("apiVersion", Yaml::Int(1)),
            (
                "providers",
                Yaml::Seq(vec![Yaml::map([
                    ("name", Yaml::str(&grafana.uid_prefix)),
                    ("orgId", Yaml::Int(1)),
                    ("folder", Yaml::str(&grafana.folder)),
                    ("folderUid", Yaml::str(&grafana.uid_prefix)),
                    ("type", Yaml::str("file")),
                    ("disableDeletion", Yaml::Bool(false)),
                    ("allowUiUpdates", Yaml::Bool(false)),
                    ("updateIntervalSeconds", Yaml::Int(60)),
                    (
                        "options",
                        Yaml::map([
                            ("path", Yaml::str(&grafana.dashboards_path)),
                            ("foldersFromFilesStructure", Yaml::Bool(false)),
                        ]),
                    ),
                ])]),
            ),
        ]),
    )
}

/// `grafana/provisioning/datasources/prometheus.yml`: the Prometheus data source.
pub fn datasource(deployment: &Deployment) -> String {
    let grafana = &deployment.grafana;
    crate::yaml::document(
        &format!(
            "{}\nGrafana data source for the deployment's Prometheus; put it in \
             /etc/grafana/provisioning/datasources/.\ntimeInterval matches the scrape interval, \
             so $__rate_interval is at least four scrapes.",
            generated_notice(&deployment.selector)
        ),
        &Yaml::map([
            ("apiVersion", Yaml::Int(1)),
            (
                "datasources",
                Yaml::Seq(vec![Yaml::map([
                    ("name", Yaml::str(&grafana.datasource)),
                    ("type", Yaml::str("prometheus")),
                    ("uid", Yaml::str(&grafana.datasource_uid)),
                    ("access", Yaml::str("proxy")),
                    ("url", Yaml::str(&deployment.prometheus.url)),
                    ("isDefault", Yaml::Bool(true)),
                    ("editable", Yaml::Bool(false)),
                    (
                        "jsonData",
                        Yaml::map([
                            (
                                "timeInterval",
                                Yaml::str(deployment.scrape.interval.as_str()),
                            ),
                            ("httpMethod", Yaml::str("POST")),
                        ]),
                    ),
                ])]),
            ),
        ]),
    )
}
