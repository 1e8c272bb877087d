//! Runs the real gateway binary on an ephemeral port, with its own data directory, and talks to
//! it over HTTP.

#![allow(dead_code, unreachable_pub)]

use std::{
    fs,
    path::{Path, PathBuf},
    process::{Command, ExitStatus},
    time::{Duration, Instant},
};

use futures_util::StreamExt;
use gatewayz_testkit::{
    exposition::{self, Exposition},
    process::Process,
};
use serde_json::{Value, json};

pub const ADMIN_KEY: &str = "test-admin-key-0123456789";

/// The gateway binary built for this test run.
pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_gatewayz-gateway")
}

/// A data directory with a configuration file in it.
pub struct Setup {
    pub dir: tempfile::TempDir,
}

impl Setup {
    pub fn new(config: &str) -> Setup {
        let dir = tempfile::tempdir().expect("a temporary directory");
        fs::write(dir.path().join("config.toml"), config).unwrap();
        Setup { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    fn config(&self) -> PathBuf {
        self.path().join("config.toml")
    }

    /// Runs `gatewayz-gateway keys ...` and returns its standard output.
    pub fn keys(&self, args: &[&str]) -> String {
        let output = Command::new(binary())
            .arg("--config")
            .arg(self.config())
            .arg("--data-dir")
            .arg(self.path().join("data"))
            .arg("keys")
            .args(args)
            .output()
            .expect("the gateway binary runs");
        assert!(
            output.status.success(),
            "keys {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    }

    /// Creates a key and returns it.
    pub fn create_key(&self, plan: &str, credits: f64) -> String {
        self.keys(&[
            "create",
            "--name",
            "test",
            "--plan",
            plan,
            "--credits",
            &credits.to_string(),
        ])
        .trim()
        .to_owned()
    }

    /// Starts the gateway and waits until it serves.
    pub fn start(&self, extra: &[&str]) -> Gateway {
        self.start_with_env(extra, &[])
    }

    /// Starts the gateway with extra environment variables (set for it alone) and waits until
    /// it serves.
    pub fn start_with_env(&self, extra: &[&str], env: &[(&str, &str)]) -> Gateway {
        let ready = self
            .path()
            .join(format!("ready-{}.json", fastrand::u64(..)));
        let log = self
            .path()
            .join(format!("gateway-{}.log", fastrand::u64(..)));
        let mut command = Command::new(binary());
        command
            .arg("--config")
            .arg(self.config())
            .arg("--data-dir")
            .arg(self.path().join("data"))
            .args(["--listen", "127.0.0.1:0", "--no-demo", "--ready-file"])
            .arg(&ready)
            .args(extra)
            .env("GATEWAYZ_ADMIN_KEY", ADMIN_KEY)
            .env("RUST_LOG", "info")
            .envs(env.iter().copied());
        let mut process =
            Process::start("gateway", &mut command, &log).unwrap_or_else(|why| panic!("{why}"));
        let value = process
            .wait_for_json_file(&ready, Duration::from_secs(60))
            .unwrap_or_else(|why| panic!("{why}"));
        Gateway {
            process,
            url: value["url"].as_str().unwrap().to_owned(),
            log,
        }
    }
}

/// A running gateway process; killed when dropped.
pub struct Gateway {
    process: Process,
    pub url: String,
    log: PathBuf,
}

impl Gateway {
    pub fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// Sends SIGTERM, as an orchestrator does.
    pub fn terminate(&self) {
        self.process.terminate();
    }

    /// Waits for the process to exit.
    pub fn wait(mut self) -> ExitStatus {
        self.process
            .wait(Duration::from_secs(60))
            .unwrap_or_else(|why| panic!("{why}"))
    }

    /// Terminates the gateway and checks it exits cleanly.
    pub fn stop(self) {
        self.terminate();
        let log = self.log.clone();
        let status = self.wait();
        assert!(
            status.success(),
            "the gateway exited with {status}:\n{}",
            fs::read_to_string(log).unwrap_or_default()
        );
    }

    pub fn client(&self) -> awc::Client {
        awc::Client::builder()
            .timeout(Duration::from_secs(60))
            .finish()
    }

    /// POSTs a chat completion and returns the status, headers and JSON body.
    pub async fn complete(&self, key: &str, body: Value) -> Reply {
        let mut response = self
            .client()
            .post(format!("{}/v1/chat/completions", self.url))
            .bearer_auth(key)
            .send_json(&body)
            .await
            .expect("the gateway answers");
        let bytes = response.body().limit(1 << 24).await.unwrap();
        Reply {
            status: response.status().as_u16(),
            retry_after: response
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().to_owned()),
            content_type: response
                .headers()
                .get("content-type")
                .map(|v| v.to_str().unwrap().to_owned()),
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
            raw: bytes.to_vec(),
        }
    }

    /// A GET, returning the status and body text.
    pub async fn get(&self, path: &str, key: Option<&str>) -> (u16, String) {
        let mut request = self.client().get(format!("{}{path}", self.url));
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        let mut response = request.send().await.expect("the gateway answers");
        let bytes = response.body().limit(1 << 26).await.unwrap();
        (
            response.status().as_u16(),
            String::from_utf8(bytes.to_vec()).unwrap(),
        )
    }

    /// Every metric, parsed.
    pub async fn metrics(&self) -> Exposition {
        let (status, text) = self.get("/prometheus/metrics/all", None).await;
        assert_eq!(status, 200);
        exposition::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"))
    }

    /// Changes a simulated provider through the admin endpoint.
    pub async fn simulate(&self, provider: &str, settings: Value) {
        let mut response = self
            .client()
            .post(format!("{}/admin/simulator/{provider}", self.url))
            .bearer_auth(ADMIN_KEY)
            .send_json(&settings)
            .await
            .unwrap();
        let body = response.body().await.unwrap();
        assert_eq!(response.status(), 200, "{}", String::from_utf8_lossy(&body));
    }
}

/// A completion answer.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub retry_after: Option<String>,
    pub content_type: Option<String>,
    pub body: Value,
    pub raw: Vec<u8>,
}

impl Reply {
    /// OpenAI's error `code`.
    pub fn code(&self) -> &str {
        self.body["error"]["code"]
            .as_str()
            .unwrap_or_else(|| panic!("not an OpenAI error: {self:?}"))
    }
}

/// A chat request for `model`.
pub fn chat(model: &str, stream: bool) -> Value {
    json!({"model": model, "stream": stream, "messages": [{"role": "user", "content": "Say hello to the test suite."}]})
}

/// A streamed completion as received: each chunk with the time it arrived.
pub struct Streamed {
    pub status: u16,
    pub content_type: String,
    pub chunks: Vec<(Duration, bytes::Bytes)>,
}

impl Streamed {
    /// Every `data:` payload, in order.
    pub fn events(&self) -> Vec<String> {
        let text: Vec<u8> = self.chunks.iter().flat_map(|(_, c)| c.to_vec()).collect();
        String::from_utf8(text)
            .unwrap()
            .lines()
            .filter_map(|l| l.strip_prefix("data: ").map(str::to_owned))
            .collect()
    }
}

/// Streams a completion, reading chunks as they arrive; `on_first` runs after the first one.
pub async fn stream(
    gateway: &Gateway,
    key: &str,
    body: Value,
    on_first: impl FnOnce(),
) -> Streamed {
    let started = Instant::now();
    let client = gateway.client();
    let mut response = client
        .post(format!("{}/v1/chat/completions", gateway.url))
        .bearer_auth(key)
        .send_json(&body)
        .await
        .expect("the gateway answers");
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let mut chunks = Vec::new();
    let mut on_first = Some(on_first);
    while let Some(chunk) = response.next().await {
        chunks.push((started.elapsed(), chunk.expect("the stream is not cut")));
        if let Some(f) = on_first.take() {
            f();
        }
    }
    Streamed {
        status,
        content_type,
        chunks,
    }
}

/// Credits (nano) left on every key the test created (not the gateway's own demo key), from
/// the database.
pub fn credits(setup: &Setup) -> Vec<i64> {
    let db = gatewayz_gateway::store::Database::open(
        &setup.path().join("data"),
        gatewayz_metrics::Metrics::new(),
    )
    .unwrap();
    db.list_keys()
        .unwrap()
        .iter()
        .filter(|k| k.name != "demo")
        .map(|k| k.credits_nano)
        .collect()
}
