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

    /// Where the gateway's standard output and error go; it outlives the process.
    pub fn log_path(&self) -> PathBuf {
        self.log.clone()
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

impl Setup {
    /// Runs `gatewayz-gateway keys ...` and returns its output, whether it succeeded or not.
    pub fn keys_output(&self, args: &[&str]) -> std::process::Output {
        Command::new(binary())
            .arg("--config")
            .arg(self.config())
            .arg("--data-dir")
            .arg(self.path().join("data"))
            .arg("keys")
            .args(args)
            .output()
            .expect("the gateway binary runs")
    }

    /// The gateway's data directory.
    pub fn data(&self) -> PathBuf {
        self.path().join("data")
    }
}

impl Gateway {
    /// The address it listens on.
    pub fn addr(&self) -> std::net::SocketAddr {
        self.url.strip_prefix("http://").unwrap().parse().unwrap()
    }

    /// Resident memory of the process, from `/proc/<pid>/status`, in bytes.
    pub fn rss(&self) -> u64 {
        let status = fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        let line = status
            .lines()
            .find(|l| l.starts_with("VmRSS:"))
            .expect("a VmRSS line");
        let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
        kib * 1024
    }

    /// File descriptors the process has open (connections among them).
    pub fn open_files(&self) -> usize {
        fs::read_dir(format!("/proc/{}/fd", self.pid()))
            .map(|dir| dir.count())
            .unwrap_or(0)
    }

    /// Sends SIGKILL and waits for the process to be gone.
    pub fn kill(mut self) {
        self.process.kill();
    }

    /// A metric's value, summed over the series matching `labels`.
    pub async fn metric(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.metrics().await.sum(name, labels)
    }
}

/// A stalled upload: headers declaring `declared` body bytes, then `sent` of them, then nothing.
/// Holds the connection open until dropped.
pub struct Stalled {
    pub stream: std::net::TcpStream,
}

impl Stalled {
    /// Opens a connection to `addr` and sends the request head and `sent` bytes of the body
    /// (fewer if the gateway closes the connection first).
    pub fn start(
        addr: std::net::SocketAddr,
        key: Option<&str>,
        declared: usize,
        sent: usize,
    ) -> Stalled {
        use std::io::Write;
        let mut stream = std::net::TcpStream::connect(addr).expect("the gateway accepts");
        let auth = key.map_or(String::new(), |k| format!("Authorization: Bearer {k}\r\n"));
        let head = format!(
            "POST /v1/chat/completions HTTP/1.1\r\nHost: gateway\r\n{auth}\
             Content-Type: application/json\r\nContent-Length: {declared}\r\n\r\n"
        );
        let _ = stream.write_all(head.as_bytes());
        let chunk = vec![b' '; 64 << 10];
        let mut left = sent;
        stream
            .set_write_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        while left > 0 {
            let n = left.min(chunk.len());
            if stream.write_all(&chunk[..n]).is_err() {
                break;
            }
            left -= n;
        }
        Stalled { stream }
    }

    /// Reads what the gateway answered until it closes the connection or `wait` passes; the
    /// status (if any) and whether the connection was closed.
    pub fn answer(&mut self, wait: Duration) -> (Option<u16>, bool) {
        use std::io::Read;
        self.stream.set_read_timeout(Some(wait)).unwrap();
        let mut answer = Vec::new();
        let mut buf = [0u8; 4096];
        let closed = loop {
            match self.stream.read(&mut buf) {
                Ok(0) => break true,
                Ok(n) => answer.extend_from_slice(&buf[..n]),
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    break false;
                }
                Err(_) => break true,
            }
        };
        let status = std::str::from_utf8(&answer)
            .ok()
            .and_then(|text| text.split(' ').nth(1))
            .and_then(|code| code.parse().ok());
        (status, closed)
    }
}
