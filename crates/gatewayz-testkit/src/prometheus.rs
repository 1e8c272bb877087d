//! A real Prometheus (Debian's 2.42, or `$PROMETHEUS`) on a loopback port with its own
//! directory, and a client for the parts of its HTTP API the tests read.
//!
//! ```no_run
//! use gatewayz_testkit::prometheus::Prometheus;
//!
//! let dir = tempfile::tempdir().unwrap();
//! let prometheus = Prometheus::start(dir.path(), |own| format!(
//!     "global: {{scrape_interval: 1s}}\nscrape_configs:\n  - job_name: self\n    \
//!      static_configs: [{{targets: ['{own}']}}]\n"
//! ));
//! let up = prometheus.wait_for("up == 1", std::time::Duration::from_secs(30));
//! assert_eq!(up[0].label("job"), "self");
//! ```

use std::{
    collections::BTreeMap,
    fs,
    path::{Path, PathBuf},
    process::Command,
    thread,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use serde_json::Value;

use crate::{
    http::{Http, encode},
    process::{Process, free_port},
    tools::{self, PROMETHEUS},
};

/// Seconds since the Unix epoch, as Prometheus's API takes and returns time.
pub fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_secs_f64()
}

/// One series of a query result: its labels and its value (the last one, for a range query).
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Labels, `__name__` included when the result keeps it.
    pub labels: BTreeMap<String, String>,
    /// The value (for a range query, the last finite one, or NaN if none is finite).
    pub value: f64,
    /// Finite values in the series (1 for an instant query with a finite value).
    pub finite_points: usize,
}

impl Sample {
    /// The value of label `name`, or "" when absent.
    pub fn label(&self, name: &str) -> &str {
        self.labels.get(name).map_or("", String::as_str)
    }
}

/// A running Prometheus; stopped when dropped.
#[derive(Debug)]
pub struct Prometheus {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    dir: PathBuf,
    process: Process,
    http: Http,
}

impl Prometheus {
    /// Starts Prometheus on a free loopback port with the configuration `config` returns for
    /// its own `host:port` (written as `dir/prometheus.yml`: rule files are relative to it),
    /// data in `dir/data`, and waits until it is ready.
    ///
    /// # Panics
    /// When Prometheus is not installed (with how to install it), or does not get ready (with
    /// the end of its log).
    pub fn start(dir: &Path, config: impl FnOnce(&str) -> String) -> Prometheus {
        let binary = tools::require(PROMETHEUS).unwrap_or_else(|why| panic!("{why}"));
        let port = free_port();
        let own = format!("127.0.0.1:{port}");
        fs::create_dir_all(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        let file = dir.join("prometheus.yml");
        fs::write(&file, config(&own)).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let mut command = Command::new(binary);
        command
            .arg(format!("--config.file={}", file.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address={own}"));
        let mut process = Process::start("prometheus", &mut command, dir.join("prometheus.log"))
            .unwrap_or_else(|why| panic!("{why}"));
        let url = format!("http://{own}");
        process
            .wait_for_http(&format!("{url}/-/ready"), Duration::from_secs(60))
            .unwrap_or_else(|why| panic!("{why}"));
        Prometheus {
            url,
            dir: dir.to_owned(),
            process,
            http: Http::default(),
        }
    }

    /// `host:port`, as a scrape target.
    pub fn target(&self) -> &str {
        self.url.trim_start_matches("http://")
    }

    /// The directory it runs in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Panics, with the end of its log, if it has exited.
    pub fn assert_running(&mut self) {
        self.process.assert_running();
    }

    /// `POST /api/v1/<path>` with a form; the `data` of a successful answer, or the error.
    fn call(&self, path: &str, form: &[(&str, String)]) -> Result<Value, String> {
        let url = format!("{}/api/v1/{path}", self.url);
        let response = self.http.post_form(&url, form)?;
        let answer = response.json().map_err(|e| format!("{url}: {e}"))?;
        if answer["status"] == "success" {
            Ok(answer["data"].clone())
        } else {
            Err(format!(
                "{} ({}): {}",
                answer["errorType"].as_str().unwrap_or("error"),
                response.status,
                answer["error"].as_str().unwrap_or_default()
            ))
        }
    }

    /// `GET /api/v1/<path>`; the `data` of the answer.
    fn read(&self, path: &str) -> Value {
        let url = format!("{}/api/v1/{path}", self.url);
        let response = self.http.get(&url, None).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(response.status, 200, "GET {url}: {}", response.text());
        response.json().unwrap_or_else(|e| panic!("{e}"))["data"].clone()
    }

    /// An instant query at `time` (now if `None`): one sample per series, or the error.
    ///
    /// # Errors
    /// What Prometheus says about the query (a parse or execution error).
    pub fn query_at(&self, expr: &str, time: Option<f64>) -> Result<Vec<Sample>, String> {
        let mut form = vec![("query", expr.to_owned())];
        if let Some(time) = time {
            form.push(("time", format!("{time:.3}")));
        }
        let data = self.call("query", &form)?;
        let result = &data["result"];
        Ok(match data["resultType"].as_str() {
            Some("scalar") | Some("string") => vec![Sample {
                labels: BTreeMap::new(),
                value: parse_value(&result[1]),
                finite_points: usize::from(parse_value(&result[1]).is_finite()),
            }],
            _ => result
                .as_array()
                .into_iter()
                .flatten()
                .map(|series| {
                    let value = parse_value(&series["value"][1]);
                    Sample {
                        labels: labels(&series["metric"]),
                        value,
                        finite_points: usize::from(value.is_finite()),
                    }
                })
                .collect(),
        })
    }

    /// An instant query now; panics on a query error (a bad expression is a bug in a test).
    pub fn query(&self, expr: &str) -> Vec<Sample> {
        self.query_at(expr, None)
            .unwrap_or_else(|e| panic!("{expr}: {e}"))
    }

    /// A range query from `start` to `end` every `step` seconds: one [`Sample`] per series.
    ///
    /// # Errors
    /// What Prometheus says about the query.
    pub fn query_range(
        &self,
        expr: &str,
        start: f64,
        end: f64,
        step: f64,
    ) -> Result<Vec<Sample>, String> {
        let form = [
            ("query", expr.to_owned()),
            ("start", format!("{start:.3}")),
            ("end", format!("{end:.3}")),
            ("step", format!("{step}")),
        ];
        let data = self.call("query_range", &form)?;
        Ok(data["result"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|series| {
                let values: Vec<f64> = series["values"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|point| parse_value(&point[1]))
                    .filter(|v| v.is_finite())
                    .collect();
                Sample {
                    labels: labels(&series["metric"]),
                    value: values.last().copied().unwrap_or(f64::NAN),
                    finite_points: values.len(),
                }
            })
            .collect())
    }

    /// Polls `expr` until it returns at least one series, and returns them.
    ///
    /// # Panics
    /// After `timeout`, with Prometheus's log.
    pub fn wait_for(&self, expr: &str, timeout: Duration) -> Vec<Sample> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(result) = self.query_at(expr, None)
                && !result.is_empty()
            {
                return result;
            }
            assert!(
                Instant::now() < deadline,
                "no answer to `{expr}` in {timeout:?}; end of Prometheus's log:\n{}",
                self.process.log_tail(30)
            );
            thread::sleep(Duration::from_millis(200));
        }
    }

    /// The alerts Prometheus holds now (pending or firing), as `/api/v1/alerts` lists them.
    pub fn alerts(&self) -> Vec<Value> {
        self.read("alerts")["alerts"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// The state (`pending`, `firing`) of alert `name` for `provider`, if Prometheus holds it.
    pub fn alert_state(&self, name: &str, provider: &str) -> Option<String> {
        self.alerts()
            .iter()
            .find(|a| a["labels"]["alertname"] == name && a["labels"]["provider"] == provider)
            .map(|a| a["state"].as_str().unwrap_or_default().to_owned())
    }

    /// Active scrape targets of `job`: `(instance, health, last error)`.
    pub fn targets(&self, job: &str) -> Vec<(String, String, String)> {
        self.read("targets?state=active")["activeTargets"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|t| t["labels"]["job"] == job)
            .map(|t| {
                let field = |name: &str| t[name].as_str().unwrap_or_default().to_owned();
                (
                    t["labels"]["instance"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                    field("health"),
                    field("lastError"),
                )
            })
            .collect()
    }

    /// The values of `label` on the series matching `selector`, as Grafana's
    /// `label_values(selector, label)` asks for them.
    pub fn label_values(&self, label: &str, selector: &str) -> Vec<String> {
        self.read(&format!(
            "label/{label}/values?match[]={}",
            encode(selector)
        ))
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect()
    }

    /// The `rules` of every group, as `/api/v1/rules` lists them.
    pub fn rules(&self) -> Vec<Value> {
        self.read("rules")["groups"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|g| g["rules"].as_array().cloned().unwrap_or_default())
            .collect()
    }
}

fn parse_value(value: &Value) -> f64 {
    // Prometheus writes sample values as strings ("0.5", "NaN", "+Inf").
    match value.as_str() {
        Some("+Inf") => f64::INFINITY,
        Some("-Inf") => f64::NEG_INFINITY,
        Some(text) => text.parse().unwrap_or(f64::NAN),
        None => f64::NAN,
    }
}

fn labels(metric: &Value) -> BTreeMap<String, String> {
    metric
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
        .collect()
}
