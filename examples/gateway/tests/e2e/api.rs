//! Just enough of the HTTP APIs the end-to-end test talks to: Prometheus's query, alert, target
//! and label endpoints, the gateways' own endpoints, and waiting for a condition to hold.

use std::{
    collections::BTreeMap,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use serde_json::Value;

/// A client with a timeout: a hung server fails the test rather than stalling it.
pub(crate) fn client() -> awc::Client {
    awc::Client::builder()
        .timeout(Duration::from_secs(30))
        .finish()
}

/// Seconds since the Unix epoch, as Prometheus's API takes and returns time.
pub(crate) fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// `GET url`: the status and the body as text.
pub(crate) async fn get(url: &str, bearer: Option<&str>) -> (u16, String) {
    let mut request = client().get(url);
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    let mut response = request
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let body = response.body().limit(1 << 26).await.unwrap();
    (
        response.status().as_u16(),
        String::from_utf8_lossy(&body).into_owned(),
    )
}

/// `POST url` with a JSON body and a bearer token: the status and the body as text (a whole
/// stream, for a streamed completion).
pub(crate) async fn post(url: &str, bearer: &str, body: &Value) -> (u16, String) {
    let mut response = client()
        .post(url)
        .bearer_auth(bearer)
        .send_json(body)
        .await
        .unwrap_or_else(|e| panic!("POST {url}: {e}"));
    let bytes = response.body().limit(1 << 24).await.unwrap();
    (
        response.status().as_u16(),
        String::from_utf8_lossy(&bytes).into_owned(),
    )
}

/// Polls `check` every half second until it returns `Ok`, and returns that value; after
/// `timeout`, panics with `what` and the last `Err`, which says what was seen instead.
pub(crate) async fn eventually<T>(
    what: &str,
    timeout: Duration,
    mut check: impl AsyncFnMut() -> Result<T, String>,
) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        match check().await {
            Ok(value) => return value,
            Err(last) if Instant::now() >= deadline => {
                panic!("{what}: not within {timeout:?}; last seen: {last}")
            }
            Err(_) => actix_web::rt::time::sleep(Duration::from_millis(500)).await,
        }
    }
}

/// One series of a query result: its labels and its value (the last one, for a range query).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Sample {
    /// Labels, `__name__` included when the result keeps it.
    pub(crate) labels: BTreeMap<String, String>,
    /// The value (for a range query, the last finite one, or NaN if none is finite).
    pub(crate) value: f64,
    /// Finite values in the series (1 for an instant query with a finite value).
    pub(crate) finite_points: usize,
}

impl Sample {
    /// The value of label `name`, or "" when absent.
    pub(crate) fn label(&self, name: &str) -> &str {
        self.labels.get(name).map_or("", String::as_str)
    }
}

/// Prometheus's HTTP API at `url`.
pub(crate) struct Prometheus {
    url: String,
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

impl Prometheus {
    pub(crate) fn new(url: &str) -> Prometheus {
        Prometheus {
            url: url.to_owned(),
        }
    }

    /// `POST /api/v1/<path>` with a form; the `data` of a successful answer, or the error.
    async fn call(&self, path: &str, form: &[(&str, String)]) -> Result<Value, String> {
        let url = format!("{}/api/v1/{path}", self.url);
        let mut response = client()
            .post(&url)
            .send_form(&form)
            .await
            .map_err(|e| format!("POST {url}: {e}"))?;
        let body = response
            .body()
            .limit(1 << 26)
            .await
            .map_err(|e| format!("reading {url}: {e}"))?;
        let answer: Value = serde_json::from_slice(&body)
            .map_err(|e| format!("{url}: not JSON ({e}): {}", String::from_utf8_lossy(&body)))?;
        if answer["status"] == "success" {
            Ok(answer["data"].clone())
        } else {
            Err(format!(
                "{} ({}): {}",
                answer["errorType"].as_str().unwrap_or("error"),
                response.status(),
                answer["error"].as_str().unwrap_or_default()
            ))
        }
    }

    /// `GET /api/v1/<path>`; the `data` of the answer.
    async fn read(&self, path: &str) -> Value {
        let (status, body) = get(&format!("{}/api/v1/{path}", self.url), None).await;
        assert_eq!(status, 200, "GET /api/v1/{path}: {body}");
        let answer: Value = serde_json::from_str(&body).unwrap();
        answer["data"].clone()
    }

    /// An instant query at `time` (now if `None`): one sample per series, or the error.
    pub(crate) async fn query_at(
        &self,
        expr: &str,
        time: Option<f64>,
    ) -> Result<Vec<Sample>, String> {
        let mut form = vec![("query", expr.to_owned())];
        if let Some(time) = time {
            form.push(("time", format!("{time:.3}")));
        }
        let data = self.call("query", &form).await?;
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

    /// An instant query now; panics on a query error (a bad expression is a bug here).
    pub(crate) async fn query(&self, expr: &str) -> Vec<Sample> {
        self.query_at(expr, None)
            .await
            .unwrap_or_else(|e| panic!("{expr}: {e}"))
    }

    /// A range query from `start` to `end` every `step` seconds: one [`Sample`] per series.
    pub(crate) async fn query_range(
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
        let data = self.call("query_range", &form).await?;
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

    /// The alerts Prometheus holds now (pending or firing), as `/api/v1/alerts` lists them.
    pub(crate) async fn alerts(&self) -> Vec<Value> {
        self.read("alerts").await["alerts"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// The state (`pending`, `firing`) of alert `name` for `provider`, if Prometheus holds it.
    pub(crate) async fn alert_state(&self, name: &str, provider: &str) -> Option<String> {
        self.alerts()
            .await
            .iter()
            .find(|a| a["labels"]["alertname"] == name && a["labels"]["provider"] == provider)
            .map(|a| a["state"].as_str().unwrap_or_default().to_owned())
    }

    /// Active scrape targets of `job`: `(instance, health, last error)`.
    pub(crate) async fn targets(&self, job: &str) -> Vec<(String, String, String)> {
        self.read("targets?state=active").await["activeTargets"]
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
    pub(crate) async fn label_values(&self, label: &str, selector: &str) -> Vec<String> {
        let query = form_urlencoded(selector);
        self.read(&format!("label/{label}/values?match[]={query}"))
            .await
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect()
    }

    /// The `rules` of every group, as `/api/v1/rules` lists them.
    pub(crate) async fn rules(&self) -> Vec<Value> {
        self.read("rules").await["groups"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|g| g["rules"].as_array().cloned().unwrap_or_default())
            .collect()
    }
}

/// Percent-encodes a query parameter value.
fn form_urlencoded(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Waits until `GET url/-/ready` answers 200 (Prometheus and Alertmanager both serve it).
pub(crate) async fn until_ready(what: &str, url: &str) {
    eventually(
        &format!("{what} ready at {url}"),
        Duration::from_secs(60),
        async || {
            let response = client().get(format!("{url}/-/ready")).send().await;
            match response {
                Ok(r) if r.status() == 200 => Ok(()),
                Ok(r) => Err(format!("status {}", r.status())),
                Err(e) => Err(e.to_string()),
            }
        },
    )
    .await
}
